/** The `mlock-webgpu/io` entry point in Node: everything platform-neutral, plus atomic file writes and checked reads. */
export * from '../index.js';
export { writeFileAtomic, readFileChecked } from './files.js';
