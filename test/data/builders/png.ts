/**
 * Test-only PNG writer from the PNG specification (signature, IHDR, optional PLTE, IDAT holding
 * zlib-compressed scanlines each prefixed with filter type 0, IEND; CRC-32 over type and data).
 * It is independent of fast-png, so decoding its output checks our decoder glue honestly.
 */
import { crc32, deflateSync } from 'node:zlib';

export function writePng(options: {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth?: 1 | 2 | 4 | 8 | 16;
  /** Packed scanline bytes without filter bytes, row after row. */
  rows: Uint8Array[];
  palette?: [number, number, number][];
}): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, options.width);
  dv.setUint32(4, options.height);
  ihdr[8] = options.bitDepth ?? 8;
  ihdr[9] = options.colorType;
  const raw: number[] = [];
  for (const row of options.rows) raw.push(0, ...row);
  const chunks = [chunk('IHDR', ihdr)];
  if (options.palette) chunks.push(chunk('PLTE', Uint8Array.from(options.palette.flat())));
  chunks.push(chunk('IDAT', deflateSync(Uint8Array.from(raw))), chunk('IEND', new Uint8Array(0)));
  const signature = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, ...chunks]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
