/** The `mlock-webgpu/train` entry point: one epoch of training, evaluation, and class predictions. */
export {
  trainEpoch,
  evaluate,
  predictClasses,
  type TrainEpochOptions,
  type EpochResult,
  type EvalResult,
  type Progress,
  type StepTargets,
} from './fit.js';
export { GpuSum } from './accumulator.js';
