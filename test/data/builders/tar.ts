/**
 * Test-only POSIX ustar writer, written from the header layout in POSIX.1-2001 ("pax" utility,
 * ustar Interchange Format) rather than from our reader, so the reader is checked against an
 * independent encoding.
 */

export interface TarSpec {
  path: string;
  /** '0' file (default), '5' directory, 'g' pax global header, 'x' pax extended header. */
  type?: '0' | '5' | 'g' | 'x' | '2';
  data?: Uint8Array | string;
}

export function writeTar(specs: TarSpec[], options: { endBlocks?: number } = {}): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const s of specs) {
    const data = typeof s.data === 'string' ? new TextEncoder().encode(s.data) : (s.data ?? new Uint8Array(0));
    const h = new Uint8Array(512);
    const put = (offset: number, text: string) => h.set(new TextEncoder().encode(text), offset);
    const octal = (offset: number, width: number, value: number) => put(offset, value.toString(8).padStart(width - 1, '0') + '\0');
    put(0, s.path);
    octal(100, 8, s.type === '5' ? 0o775 : 0o664);
    octal(108, 8, 1000);
    octal(116, 8, 1000);
    octal(124, 12, data.length);
    octal(136, 12, 1_600_000_000);
    put(156, s.type ?? '0');
    put(257, 'ustar\0');
    put(263, '00');
    put(265, 'user');
    put(297, 'group');
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    put(148, sum.toString(8).padStart(6, '0') + '\0 ');
    blocks.push(h);
    if (data.length > 0) {
      const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
      padded.set(data);
      blocks.push(padded);
    }
  }
  for (let i = 0; i < (options.endBlocks ?? 2); i++) blocks.push(new Uint8Array(512));
  const total = blocks.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A pax record "<len> key=value\n" where len counts the whole record, itself included. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}
