/** Node entry point: registers Dawn (npm `webgpu`) as the GPU provider, then exposes the engine. */
import './gpu/dawn.js';
export * from './index.js';
