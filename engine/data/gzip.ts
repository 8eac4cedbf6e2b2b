/**
 * Decompression through the platform's DecompressionStream (global in Node >= 18 and in browsers),
 * so no inflate code or dependency is needed. gzip wraps the Fashion-MNIST and GTSRB files; zlib
 * ("deflate") wraps compressed MATLAB variables.
 */

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses a gzip file. `source` names it in error messages. */
export async function gunzip(bytes: Uint8Array, source = 'gzip data'): Promise<Uint8Array> {
  if (!isGzip(bytes)) throw new Error(`${source}: not gzip data (missing 1f 8b magic number)`);
  return decompress(bytes, 'gzip', source);
}

/** Decompresses a zlib stream (RFC 1950: 2-byte header, deflate data, Adler-32). */
export async function inflateZlib(bytes: Uint8Array, source = 'zlib data'): Promise<Uint8Array> {
  return decompress(bytes, 'deflate', source);
}

async function decompress(bytes: Uint8Array, format: CompressionFormat, source: string): Promise<Uint8Array> {
  const stream = new DecompressionStream(format);
  const writer = stream.writable.getWriter();
  // The write and close promises reject with the same error the reader sees; the reader reports it.
  writer.write(toArrayBufferView(bytes)).catch(() => {});
  writer.close().catch(() => {});

  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch (err) {
    throw new Error(`${source}: corrupt or truncated ${format} data (${(err as Error).message})`, { cause: err });
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// DOM typings want a view over a plain ArrayBuffer; copy only in the rare SharedArrayBuffer case.
function toArrayBufferView(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
