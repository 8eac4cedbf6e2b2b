/**
 * The engine's public API (platform-neutral). In Node, import `engine/node.ts` instead, which also registers
 * the Dawn provider; in browsers this module alone uses `navigator.gpu`.
 */
import { memoryCounters } from './tensor.js';
import { runtime } from './context.js';

export { Tensor, wipeTensor } from './tensor.js';
export type { DType } from './dtype.js';
export type { Shape } from './shape.js';
export { Rng } from './random.js';
export { initEngine, runtime, shutdownEngine, hasEngine, environmentDeviceOptions } from './context.js';
export type { RecordedWork } from './runtime/runtime.js';
export { acquireDevice, adapterLabel, registerGpuProvider, type DeviceOptions, type AdapterDescription } from './gpu/adapter.js';
export { scope, keep } from './scope.js';
export { backward, grad, type BackwardOptions } from './autograd.js';
export { defineOp, noGrad, isGradEnabled, type OpDef, type GradNode, type GradRule, type Saved } from './graph.js';
export { sumToShape } from './ops/reduce.js';
export * from './ops/creation.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/layout.js';
export { gather, takeAlongAxis, oneHot } from './ops/indexing.js';

export interface MemoryInfo {
  /** Tensors not yet disposed. */
  liveTensors: number;
  /** Bytes those tensors hold. */
  liveBytes: number;
  /** Bytes of every GPU buffer the pool has created (live + reusable). */
  poolBytes: number;
  /** Bytes waiting in the pool for reuse. */
  freeBytes: number;
  buffersCreated: number;
}

export function memory(): MemoryInfo {
  const c = memoryCounters();
  const pool = runtime().pool;
  return {
    liveTensors: c.tensors,
    liveBytes: c.bytes,
    poolBytes: pool.allocatedBytes,
    freeBytes: pool.freeBytes,
    buffersCreated: pool.buffersCreated,
  };
}

/** Wait until the GPU has finished all submitted work; raises any pending GPU error. */
export function sync(): Promise<void> {
  return runtime().sync();
}
export {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardFilter,
  type Conv2dOptions,
  type Conv2dGeometryOptions,
  type Conv2dPadding,
} from './ops/conv.js';
export {
  softmax,
  logSoftmax,
  crossEntropy,
  klDivergence,
  type LossReduction,
  type LossOptions,
  type KlDivergenceOptions,
} from './ops/softmax.js';
export { batchNorm2d, type BatchNormOptions } from './ops/normalization.js';
export { dropout, type DropoutOptions } from './ops/dropout.js';
export {
  matmul,
  tuneMatmul,
  loadMatmulTuning,
  matmulConfigFor,
  setMatmulAutotune,
  isMatmulAutotuneEnabled,
  setMatmulVariant,
  resetMatmulTuning,
  MATMUL_CONFIG_IDS,
  MATMUL_VARIANTS,
  type MatmulOptions,
  type MatmulShapes,
  type MatmulVariant,
  type MatmulTuneResult,
} from './ops/matmul.js';
export { maxPool2d, avgPool2d, globalAvgPool, type Pool2dOptions } from './ops/pool.js';
export { setConvVariant, type ConvVariant } from './ops/conv.js';
