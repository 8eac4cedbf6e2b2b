/** SVHN cropped digits from the official .mat files (see ../svhn.ts for the format). */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../dataset.js';
import { parseSvhnMat } from '../svhn.js';
import { readFileChecked } from '../../io/node/files.js';
import { DatasetNotFoundError } from './missing.js';
import { sharedDataPath } from './paths.js';

export interface SvhnLoadOptions {
  /** "extra" is SVHN's additional 531,131 easier training images. */
  split: 'train' | 'test' | 'extra';
  /** Folder holding <split>_32x32.mat, or one .mat file. */
  path?: string;
}

export const defaultSvhnPath = () => sharedDataPath('svhn');

export async function loadSvhn(options: SvhnLoadOptions): Promise<ImageDataset> {
  const path = options.path ?? defaultSvhnPath();
  if (!existsSync(path)) throw new DatasetNotFoundError('svhn', path);
  const file = statSync(path).isFile() ? path : join(path, `${options.split}_32x32.mat`);
  if (!existsSync(file)) throw new DatasetNotFoundError('svhn', path, `no ${options.split}_32x32.mat`);
  const ds = await parseSvhnMat(await readFileChecked(file), file);
  ds.name = `svhn/${options.split}`;
  return ds;
}
