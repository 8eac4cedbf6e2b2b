/**
 * CIFAR-10 and CIFAR-100 from their official binary distributions. The repository default for
 * CIFAR-10 is the lossless 4000/1000-image subset in the shared data folder, which has the official
 * file format but only data_batch_1.bin; whichever training batches exist are used, in order.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { concatDatasets, type ImageDataset } from '../dataset.js';
import { CIFAR10_CLASSES, parseCifar10, parseCifar100, parseClassNames, type Cifar100LabelKind } from '../cifar.js';
import { readFileChecked } from '../../io/node/files.js';
import { DatasetNotFoundError } from './missing.js';
import { sharedDataPath } from './paths.js';
import type { Split } from './mnist.js';

export interface CifarLoadOptions {
  split: Split;
  /** The cifar-10-batches-bin / cifar-100-binary folder, or a single .bin file. */
  path?: string;
}

export const defaultCifar10Path = () => sharedDataPath('cifar-10-batches-bin-subset');
export const defaultCifar100Path = () => sharedDataPath('cifar-100-binary');

export async function loadCifar10(options: CifarLoadOptions): Promise<ImageDataset> {
  const path = options.path ?? defaultCifar10Path();
  if (!existsSync(path)) throw new DatasetNotFoundError('cifar10', path);
  if (statSync(path).isFile()) return parseCifar10(await readFileChecked(path), path);

  const metaPath = join(path, 'batches.meta.txt');
  const classNames = existsSync(metaPath)
    ? parseClassNames(new TextDecoder().decode(await readFileChecked(metaPath)))
    : CIFAR10_CLASSES;
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
