/**
 * A minimal reader for POSIX ustar archives (and the GNU/pax extensions that carry long names),
 * enough to read dataset archives in memory without unpacking them to disk.
 *
 * Each entry is a 512-byte header (name 0..99, mode, uid, gid, size 124..135 octal, mtime,
 * checksum 148..155, typeflag 156, linkname, "ustar" magic 257, ..., prefix 345..499) followed by
 * the data padded to 512 bytes; the archive ends with zero blocks. Only regular files are returned.
 * Directories, links and devices are skipped. A pax global header ('g') only carries archive-wide
 * metadata (the shared archives put a commit id there) and is skipped; a pax extended header ('x')
 * or GNU long name ('L') supplies the path (and for 'x' possibly the size) of the next entry.
 */

export interface TarEntry {
  path: string;
  /** The file's bytes: a view into the archive buffer, not a copy. */
  data: Uint8Array;
}

const BLOCK = 512;
const utf8 = new TextDecoder();

export function readTar(bytes: Uint8Array, source: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  let nextPath: string | undefined;
  let nextSize: number | undefined;
  while (pos + BLOCK <= bytes.length) {
    const header = bytes.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    const where = `${source}: tar entry at byte ${pos}`;
    verifyChecksum(header, where);

    const typeflag = String.fromCharCode(header[156]!);
    let path = readString(header, 0, 100);
    if (readString(header, 257, 6) === 'ustar') {
      const prefix = readString(header, 345, 155);
      if (prefix) path = `${prefix}/${path}`;
    }
    let size = readOctal(header, 124, 12, `${where}: size`);
    if (nextSize !== undefined) size = nextSize;
    if (nextPath !== undefined) path = nextPath;
    const dataStart = pos + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new Error(`${source}: truncated archive: entry "${path}" needs ${size} bytes, only ${bytes.length - dataStart} remain`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === 'x') {
      const pax = parsePax(data, where);
      nextPath = pax.get('path');
      const s = pax.get('size');
      nextSize = s === undefined ? undefined : Number(s);
      continue;
    }
    if (typeflag === 'L') {
      nextPath = readString(data, 0, data.length);
      continue;
    }
    nextPath = undefined;
    nextSize = undefined;
    // 'g' = pax global header, '5' = directory, 1/2/3/4/6 = links and special files.
    if (typeflag === '0' || typeflag === '\0' || typeflag === '7') {
      entries.push({ path: normalise(path), data });
    }
  }
  return entries;
}

/** Indexes entries by path, for loaders that look files up by name. */
export function tarIndex(entries: TarEntry[]): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>();
  for (const e of entries) map.set(e.path, e.data);
  return map;
}

function normalise(path: string): string {
  let p = path;
  while (p.startsWith('./')) p = p.slice(2);
  return p;
}

function readString(bytes: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(offset, end));
}

function readOctal(bytes: Uint8Array, offset: number, length: number, what: string): number {
  if (bytes[offset]! & 0x80) {
    throw new Error(`${what}: base-256 encoded number (an entry of 8 GiB or more) is not supported`);
  }
  const text = readString(bytes, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`${what}: "${text}" is not an octal number; not a tar archive or corrupt`);
  return parseInt(text, 8);
}

function verifyChecksum(header: Uint8Array, where: string): void {
  const stored = readOctal(header, 148, 8, `${where}: checksum`);
  // The checksum is the byte sum of the header with its own field read as eight spaces.
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += header[i]!;
  if (sum !== stored)
    throw new Error(`${where}: header checksum mismatch (stored ${stored}, computed ${sum}); not a tar archive or corrupt`);
}

/** pax records are "<length> <key>=<value>\n", where length counts the whole record in bytes. */
function parsePax(data: Uint8Array, where: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    let sp = pos;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(utf8.decode(data.subarray(pos, sp)));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length) throw new Error(`${where}: malformed pax record`);
    const record = utf8.decode(data.subarray(sp + 1, pos + len - 1));
    const eq = record.indexOf('=');
    if (eq < 0) throw new Error(`${where}: malformed pax record "${record}"`);
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}
