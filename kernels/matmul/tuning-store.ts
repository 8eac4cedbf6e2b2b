/**
 * Where matmul tuning results persist between runs: in Node, one JSON file per adapter,
 * `<MLOCK_CACHE_DIR, else .cache in the working directory (the project root for npm scripts)>/autotune-<adapter
 * hash>.json`, written atomically; in browsers nothing persists (results live in memory for the page's life).
 *
 * Node modules are loaded with dynamic imports of non-literal specifiers, only when `process` says this is Node,
 * so browser bundlers neither resolve nor include them.
 */
import type { AdapterDescription } from '../../engine/gpu/adapter.js';

/** The result of tuning one shape bucket: the chosen configuration and every candidate's time per product. */
export interface TuningEntry {
  config: string;
  timesMs: Record<string, number>;
}

/** Bumped when the kernels change enough that stored choices no longer hold; older files are ignored. */
const FORMAT = 1;

interface TuningFile {
  format: number;
  adapter: AdapterDescription;
  entries: Record<string, TuningEntry>;
}

const NODE_FS = 'node:fs/promises';
const NODE_PATH = 'node:path';

function inNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** A short, stable name for an adapter (FNV-1a over its description). */
export function adapterKey(info: AdapterDescription): string {
  const text = [info.vendor, info.architecture, info.device, info.description, info.backend].join('|');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** The cache file for an adapter, or null where nothing persists (browsers). */
async function tuningFilePath(info: AdapterDescription): Promise<string | null> {
  if (!inNode()) return null;
  const path = (await import(/* @vite-ignore */ NODE_PATH)) as typeof import('node:path');
  const dir = process.env.MLOCK_CACHE_DIR || path.join(process.cwd(), '.cache');
  return path.join(dir, `autotune-${adapterKey(info)}.json`);
}

/**
 * The stored entries for an adapter. A missing, unreadable, older-format or other-adapter file reads as empty:
 * it is only a cache, and tuning again rewrites it.
 */
export async function readTuning(info: AdapterDescription): Promise<Record<string, TuningEntry>> {
  const file = await tuningFilePath(info);
  if (file === null) return {};
  const fs = (await import(/* @vite-ignore */ NODE_FS)) as typeof import('node:fs/promises');
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<TuningFile>;
    if (parsed.format !== FORMAT || adapterKey(parsed.adapter ?? ({} as AdapterDescription)) !== adapterKey(info)) return {};
    return parsed.entries ?? {};
  } catch {
    return {};
  }
}

/**
 * Merge `entries` into the adapter's file (re-read first, so processes tuning different shapes keep each other's
 * results) and write it atomically: a temporary file renamed over the old one, so a reader never sees half a
 * file. (No fsync: losing a cache to a power cut only costs a re-measurement.) Returns the path written, or null
 * in browsers.
 */
export async function writeTuning(info: AdapterDescription, entries: Record<string, TuningEntry>): Promise<string | null> {
  const file = await tuningFilePath(info);
  if (file === null) return null;
  const fs = (await import(/* @vite-ignore */ NODE_FS)) as typeof import('node:fs/promises');
  const path = (await import(/* @vite-ignore */ NODE_PATH)) as typeof import('node:path');
  const merged: TuningFile = { format: FORMAT, adapter: info, entries: { ...(await readTuning(info)), ...entries } };
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.writeFile(temp, `${JSON.stringify(merged, null, 1)}\n`);
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw new Error(`matmul autotune: cannot write the cache file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return file;
}
