/**
 * Where datasets live by default. The shared data folder sits next to the repository checkout
 * (<clone>/../shared/data), both here and in CI, so defaults are resolved from the project root.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The nearest folder at or above this file that holds a package.json. Searching (rather than a
 * fixed "../../..") keeps working if the file is moved or compiled into another folder.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the project root (no package.json above ${fileURLToPath(import.meta.url)})`);
    dir = parent;
  }
}

/** A path inside the shared data folder, <project root>/../shared/data/... */
export function sharedDataPath(...parts: string[]): string {
  return resolve(projectRoot(), '..', 'shared', 'data', ...parts);
}
