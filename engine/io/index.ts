/** The `mlock-webgpu/io` entry point (platform-neutral): safetensors, and models and training checkpoints in it. */
export {
  encodeSafetensors,
  decodeSafetensors,
  type Dtype,
  type TensorArray,
  type TensorEntry,
  type DecodedTensor,
  type SafetensorsFile,
} from './safetensors.js';
export { encodeModel, decodeModelInto, encodeTrainingCheckpoint, decodeTrainingCheckpoint, type TrainingPosition } from './checkpoint.js';
