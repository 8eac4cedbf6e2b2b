/** A class-per-folder image dataset from disk (see ../image-folder.ts). */
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ImageDataset } from '../dataset.js';
import { isImagePath, parseImageFolder, type FolderFile, type ImageFolderOptions } from '../image-folder.js';
import { readFileChecked } from '../../io/node/files.js';
import { DatasetNotFoundError } from './missing.js';

export interface ImageFolderLoadOptions extends Omit<ImageFolderOptions, 'name'> {
  path: string;
  /** When the folder has train/ and test/ subfolders, the one to read; otherwise ignored. */
  split?: 'train' | 'test';
}

export async function loadImageFolder(options: ImageFolderLoadOptions): Promise<ImageDataset> {
  if (!existsSync(options.path) || !statSync(options.path).isDirectory()) throw new DatasetNotFoundError('folder', options.path);
  let root = options.path;
  if (options.split && existsSync(join(root, options.split)) && statSync(join(root, options.split)).isDirectory()) {
    root = join(root, options.split);
  }
  const files: FolderFile[] = [];
  for (const full of await listFiles(root)) {
    const rel = relative(root, full).split(sep).join('/');
    if (isImagePath(rel)) files.push({ path: rel, bytes: await readFileChecked(full) });
  }
  return parseImageFolder(files, { width: options.width, height: options.height, name: root });
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}
