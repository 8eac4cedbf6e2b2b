/**
 * CIFAR-10 and CIFAR-100 from their official binary distributions, and CIFAR-10 from the complete
 * JPEG copy (../cifar-jpeg.ts) as a .tar.gz / .tar archive or an extracted folder. The repository
 * default for CIFAR-10 is the lossless 4000/1000-image subset in the shared data folder, which has
 * the official file format but only data_batch_1.bin; whichever training batches exist are used,
 * in order. The full 50000/10000 images are in the shared cifar10-jpeg.tar.gz.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { concatDatasets, type ImageDataset } from '../dataset.js';
import { CIFAR10_CLASSES, parseCifar10, parseCifar100, parseClassNames, type Cifar100LabelKind } from '../cifar.js';
import { asCifar10Jpeg, cifar10JpegSplitFiles, parseCifar10Jpeg } from '../cifar-jpeg.js';
import { gunzip, isGzip } from '../gzip.js';
import { readTar } from '../tar.js';
import { readFileChecked } from '../../io/node/files.js';
import { loadImageFolder } from './image-folder.js';
import { DatasetNotFoundError } from './missing.js';
import { sharedDataPath } from './paths.js';
import type { Split } from './mnist.js';

export interface CifarLoadOptions {
  split: Split;
  /**
   * The cifar-10-batches-bin / cifar-100-binary folder, or a single .bin file. CIFAR-10 also takes
   * the JPEG copy: cifar10-jpeg.tar.gz (or .tar), its extracted cifar10-jpeg/ folder (holding
   * train/<class>/ and test/<class>/), or a folder containing cifar10-jpeg/.
   */
  path?: string;
}

export const defaultCifar10Path = () => sharedDataPath('cifar-10-batches-bin-subset');
export const defaultCifar100Path = () => sharedDataPath('cifar-100-binary');

export async function loadCifar10(options: CifarLoadOptions): Promise<ImageDataset> {
  const path = options.path ?? defaultCifar10Path();
  if (!existsSync(path)) throw new DatasetNotFoundError('cifar10', path);
  if (statSync(path).isFile()) {
    const bytes = await readFileChecked(path);
    return isArchive(bytes) ? loadCifar10JpegArchive(bytes, options.split, path) : parseCifar10(bytes, path);
  }
  const jpegRoot = findCifar10JpegFolder(path);
  if (jpegRoot !== undefined) return loadCifar10JpegFolder(jpegRoot, options.split);

  const metaPath = join(path, 'batches.meta.txt');
  const classNames = existsSync(metaPath) ? parseClassNames(new TextDecoder().decode(await readFileChecked(metaPath))) : CIFAR10_CLASSES;
  if (classNames.length !== 10) throw new Error(`${metaPath}: ${classNames.length} class names, expected 10`);

  const files =
    options.split === 'train'
      ? [1, 2, 3, 4, 5].map((k) => join(path, `data_batch_${k}.bin`)).filter((f) => existsSync(f))
      : [join(path, 'test_batch.bin')].filter((f) => existsSync(f));
  if (files.length === 0) {
    throw new DatasetNotFoundError('cifar10', path, options.split === 'train' ? 'no data_batch_N.bin files' : 'no test_batch.bin');
  }
  const parts: ImageDataset[] = [];
  for (const f of files) parts.push(parseCifar10(await readFileChecked(f), f, classNames));
  const ds = parts.length === 1 ? parts[0]! : concatDatasets(parts, '');
  ds.name = `cifar10/${options.split}`;
  return ds;
}

/**
 * A gzip or ustar file rather than a CIFAR binary batch. Neither can be mistaken for one: a gzip
 * file starts with 0x1f, which is no CIFAR-10 label, and "ustar" at byte 257 would need five
 * specific pixel values in a row.
 */
function isArchive(bytes: Uint8Array): boolean {
  return isGzip(bytes) || (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar');
}

async function loadCifar10JpegArchive(bytes: Uint8Array, split: Split, path: string): Promise<ImageDataset> {
  const tar = isGzip(bytes) ? await gunzip(bytes, path) : bytes;
  return parseCifar10Jpeg(cifar10JpegSplitFiles(readTar(tar, path), split, path), split, path);
}

/** The folder holding train/ and test/: `path` itself, or its cifar10-jpeg/ subfolder. */
function findCifar10JpegFolder(path: string): string | undefined {
  const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
  if (isDir(join(path, 'train')) || isDir(join(path, 'test'))) return path;
  if (isDir(join(path, 'cifar10-jpeg'))) return join(path, 'cifar10-jpeg');
  return undefined;
}

async function loadCifar10JpegFolder(root: string, split: Split): Promise<ImageDataset> {
  const dir = join(root, split);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetNotFoundError('cifar10', root, `no ${split}/ folder`);
  return asCifar10Jpeg(await loadImageFolder({ path: dir, width: 32, height: 32 }), split, root);
}

export async function loadCifar100(options: CifarLoadOptions & { label?: Cifar100LabelKind }): Promise<ImageDataset> {
  const path = options.path ?? defaultCifar100Path();
  const kind = options.label ?? 'fine';
  if (!existsSync(path)) throw new DatasetNotFoundError('cifar100', path);
  const isFile = statSync(path).isFile();
  const file = isFile ? path : join(path, options.split === 'train' ? 'train.bin' : 'test.bin');
  if (!existsSync(file)) throw new DatasetNotFoundError('cifar100', path, `no ${basename(file)}`);
  let classNames: string[] | undefined;
  const namesPath = join(isFile ? join(path, '..') : path, `${kind}_label_names.txt`);
  if (existsSync(namesPath)) classNames = parseClassNames(new TextDecoder().decode(await readFileChecked(namesPath)));
  const ds = parseCifar100(await readFileChecked(file), file, kind, classNames);
  ds.name = `cifar100/${options.split}`;
  return ds;
}
