/**
 * GTSRB from an extracted folder or from a .tar / .tar.gz of the same layout (the shared
 * gtsrb32.tar.gz). A folder may be the GTSRB/ folder itself or any folder that contains it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../dataset.js';
import { gunzip, isGzip } from '../gzip.js';
import { findGtsrbPrefix, parseGtsrb, type FileLookup, type GtsrbOptions } from '../gtsrb.js';
import { readTar, tarIndex } from '../tar.js';
import { readFileChecked } from '../../io/node/files.js';
import { DatasetNotFoundError } from './missing.js';
import { sharedDataPath } from './paths.js';

export interface GtsrbLoadOptions extends GtsrbOptions {
  split: 'train' | 'test';
  /** Extracted folder, or .tar / .tar.gz file; default the shared gtsrb32.tar.gz. */
  path?: string;
}

export const defaultGtsrbPath = () => sharedDataPath('gtsrb32.tar.gz');

export interface GtsrbSource {
  lookup: FileLookup;
  /** The file or folder, for messages. */
  source: string;
}

/**
 * Opens the data once so both splits can be parsed without decompressing the archive twice.
 * For an archive, all of it is held in memory (about 215 MB for gtsrb32).
 */
export async function openGtsrb(path: string = defaultGtsrbPath()): Promise<GtsrbSource> {
  if (!existsSync(path)) throw new DatasetNotFoundError('gtsrb', path);
  if (statSync(path).isDirectory()) {
    const root = ['GTSRB', '.']
      .map((p) => join(path, p))
      .find((d) => existsSync(join(d, 'Final_Training')) || existsSync(join(d, 'Final_Test')));
    if (!root) throw new DatasetNotFoundError('gtsrb', path, 'no GTSRB/Final_Training or Final_Test folder inside');
    const lookup: FileLookup = (rel) => {
      try {
        const b = readFileSync(join(root, rel));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    };
    return { lookup, source: root };
  }
  let bytes = await readFileChecked(path);
  if (isGzip(bytes)) bytes = await gunzip(bytes, path);
  const files = tarIndex(readTar(bytes, path));
  const prefix = findGtsrbPrefix(files.keys());
  if (prefix === undefined) throw new DatasetNotFoundError('gtsrb', path, 'the archive has no Final_Training/ or Final_Test/ annotations');
  return { lookup: (rel) => files.get(prefix + rel), source: path };
}

export async function loadGtsrb(options: GtsrbLoadOptions): Promise<ImageDataset> {
  const { lookup, source } = await openGtsrb(options.path);
  return parseGtsrb(lookup, options.split, source, options);
}
