/**
 * CIFAR-10 and CIFAR-100 "binary version" files (https://www.cs.toronto.edu/~kriz/cifar.html).
 * There is no header: the file is a run of fixed-size records. CIFAR-10 records are 3073 bytes
 * (label, then 1024 red, 1024 green, 1024 blue bytes, each plane row-major 32x32); CIFAR-100
 * records are 3074 bytes (coarse label, fine label, then the same planes). The planes are already
 * in our channel-major layout, so a record's pixels are copied as they are.
 */
import { checkDataset, type ImageDataset } from './dataset.js';

const PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Parses one CIFAR-10 batch file (data_batch_N.bin or test_batch.bin). */
export function parseCifar10(bytes: Uint8Array, source: string, classNames: string[] = CIFAR10_CLASSES): ImageDataset {
  return parseRecords(bytes, source, ['label'], [10], 0, classNames);
}

export type Cifar100LabelKind = 'fine' | 'coarse';

/** Parses a CIFAR-100 file (train.bin or test.bin), keeping the fine (100) or coarse (20) label. */
export function parseCifar100(bytes: Uint8Array, source: string, kind: Cifar100LabelKind = 'fine', classNames?: string[]): ImageDataset {
  // Both label bytes are validated whichever one is kept: a bad one means a corrupt record.
  return parseRecords(bytes, source, ['coarse label', 'fine label'], [20, 100], kind === 'fine' ? 1 : 0, classNames);
}

/** Class names from a batches.meta.txt / *_label_names.txt file: one per line, blank lines ignored. */
export function parseClassNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function parseRecords(
  bytes: Uint8Array,
  source: string,
  labelNames: string[],
  labelLimits: number[],
  keep: number,
  classNames: string[] | undefined,
): ImageDataset {
  const labelBytes = labelNames.length;
  const numClasses = labelLimits[keep]!;
  const recordSize = labelBytes + PIXELS;
  if (bytes.length === 0) throw new Error(`${source}: file is empty`);
  if (bytes.length % recordSize !== 0) {
    throw new Error(
      `${source}: ${bytes.length} bytes is not a whole number of ${recordSize}-byte records ` +
        `(${Math.floor(bytes.length / recordSize)} records and ${bytes.length % recordSize} bytes left over); ` +
        `the file is truncated or is not a CIFAR-${labelBytes === 1 ? '10' : '100'} binary file`,
    );
  }
  const n = bytes.length / recordSize;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * recordSize;
    for (let k = 0; k < labelBytes; k++) {
      const y = bytes[at + k]!;
      if (y >= labelLimits[k]!) {
        throw new Error(`${source}: record ${i} has ${labelNames[k]} ${y}, outside [0, ${labelLimits[k]}); not a valid CIFAR file`);
      }
    }
    labels[i] = bytes[at + keep]!;
    images.set(bytes.subarray(at + labelBytes, at + recordSize), i * PIXELS);
  }
  const ds: ImageDataset = { name: source, images, labels, n, c: 3, h: 32, w: 32, numClasses };
  if (classNames) {
    if (classNames.length !== numClasses) {
      throw new Error(`${source}: ${classNames.length} class names given for ${numClasses} classes`);
    }
    ds.classNames = classNames.slice();
  }
  checkDataset(ds);
  return ds;
}
