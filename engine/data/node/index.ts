/** The `mlock-webgpu/data` entry point in Node: everything platform-neutral, plus loading datasets from disk by name. */
export * from '../index.js';
export { loadDataset, DATASET_NAMES, type LoadDatasetOptions } from './load-dataset.js';
export { DatasetNotFoundError, type DatasetName } from './missing.js';
export type { Split } from './mnist.js';
export { projectRoot, sharedDataPath } from './paths.js';
