/**
 * The `mlock-webgpu/data` entry point (platform-neutral): in-memory image datasets, the GPU batch loader, and
 * parsers for the official dataset formats. Reading them from disk by name is Node-only (`./node/index.ts`).
 */
export {
  checkDataset,
  subset,
  takeFirst,
  splitValidation,
  meanStd,
  concatDatasets,
  type ImageDataset,
  type ValidationSplit,
} from './dataset.js';
export { BatchLoader, type Batch, type BatchOptions, type Normalization, type PatchSource } from './batches.js';
export type { AugmentOptions } from './augment.js';
export { decodeImage, sniffImageFormat, type ImageFormat } from './image-decode.js';
export { fitRgb, interleavedToPlanar, resizeBilinear, type RgbImage } from './image.js';
export { parseIdx, parseIdxPair, type IdxArray, type IdxPairOptions } from './idx.js';
export { parseCifar10, parseCifar100, parseClassNames, CIFAR10_CLASSES, type Cifar100LabelKind } from './cifar.js';
export { parseCifar10Jpeg, type CifarSplit } from './cifar-jpeg.js';
export { parseGtsrb, GTSRB_CLASSES, GTSRB_NUM_CLASSES, type GtsrbOptions, type FileLookup } from './gtsrb.js';
export { parseSvhnMat, SVHN_CLASSES } from './svhn.js';
export { parseImageFolder, isImagePath, IMAGE_EXTENSIONS, type FolderFile, type ImageFolderOptions } from './image-folder.js';
export { parsePnm } from './ppm.js';
export { readTar, tarIndex, type TarEntry } from './tar.js';
export { gunzip, isGzip } from './gzip.js';
