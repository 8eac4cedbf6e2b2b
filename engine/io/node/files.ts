/**
 * File writing that never leaves a half-written file behind, and file reading with errors that
 * say which file was wanted and why it could not be read. Node only.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `bytes` to `path` atomically: the data goes to a temporary file in the same directory
 * (rename is only atomic within one filesystem), is flushed to disk with fsync, and then renamed
 * over the target. A crash or full disk leaves either the old file or the new one, never a torn
 * mix. The directory is fsynced afterwards so the rename itself survives a power loss.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (err) {
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  // Not every platform can open or fsync a directory (Windows cannot); the rename has already
  // happened, so failing here would only misreport a successful write.
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    /* best effort */
  }
}

/**
 * Reads a whole file. A missing file produces "<what> not found: <path>" followed by `hint`
 * (e.g. where to get it); other failures name the path and the system error.
 */
export async function readFileChecked(path: string, options: { what?: string; hint?: string } = {}): Promise<Uint8Array> {
  const what = options.what ?? 'file';
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${what} not found: ${path}${options.hint ? `\n${options.hint}` : ''}`, { cause: err });
    if (code === 'EISDIR') throw new Error(`${what} ${path} is a directory, expected a file`, { cause: err });
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}
