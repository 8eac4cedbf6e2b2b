/**
 * The safetensors file format (https://github.com/huggingface/safetensors), so that checkpoints can
 * be opened by other tools and theirs by us:
 *
 *   8 bytes   N, unsigned 64-bit little-endian
 *   N bytes   UTF-8 JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 *             optional "__metadata__" object of string -> string
 *   rest      the byte buffer; offsets are relative to its start, data is little-endian, C order
 *
 * Writing follows the reference Rust implementation byte for byte: tensors ordered by descending
 * dtype alignment, then by name; compact JSON with "__metadata__" first and the tensors in buffer
 * order; the header padded with spaces to a multiple of 8 so every tensor starts 8-byte aligned
 * in the file. Reading accepts any order but requires what the reference also checks: offsets
 * that tile the buffer exactly (contiguous, no gaps, no overlap, ending at the end of the file)
 * and byte lengths equal to product(shape) * dtype size.
 */

// Element sizes; the order is the reference's Dtype enum order (increasing alignment), used for sorting.
// prettier-ignore
const DTYPES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
} as const;

export type Dtype = keyof typeof DTYPES;

const DTYPE_RANK = new Map<string, number>(Object.keys(DTYPES).map((d, i) => [d, i]));

export type TensorArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  /** The elements, little-endian in memory (all current JS engines), row-major. */
  data: ArrayBufferView;
}

export interface DecodedTensor {
  dtype: Dtype;
  shape: number[];
  /**
   * A fresh copy of the elements. F16, BF16 and the F8 types have no JS array type and come back
   * as their raw bits (Uint16Array / Uint8Array); BOOL comes back as Uint8Array of 0/1.
   */
  data: TensorArray;
}

export interface SafetensorsFile {
  tensors: Map<string, DecodedTensor>;
  metadata: Record<string, string>;
}

// The reference refuses headers above 100 MB; so do we, which also caps what a corrupt length can make us allocate.
const MAX_HEADER_BYTES = 100_000_000;

export function encodeSafetensors(tensors: Record<string, TensorEntry>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const t = tensors[name]!;
    const size = DTYPES[t.dtype];
    if (size === undefined) throw new Error(`safetensors: tensor "${name}" has unknown dtype ${String(t.dtype)}`);
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`safetensors: tensor "${name}" has invalid dimension ${d}`);
    }
    const expected = t.shape.reduce((a, b) => a * b, 1) * size;
    if (t.data.byteLength !== expected) {
      throw new Error(
        `safetensors: tensor "${name}" has ${t.data.byteLength} bytes, but ${t.dtype}[${t.shape.join(', ')}] needs ${expected}`,
      );
    }
  }
  names.sort((a, b) => DTYPE_RANK.get(tensors[b]!.dtype)! - DTYPE_RANK.get(tensors[a]!.dtype)! || compareNames(a, b));

  // The JSON is assembled by hand: JS objects list integer-like keys first, which would break
  // the required order for tensors named "0", "1", ...
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta = Object.keys(metadata).map((k) => {
      const v = metadata[k];
      if (typeof v !== 'string') throw new Error(`safetensors: metadata "${k}" must be a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Parses and validates a safetensors file. `source` names it in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (bytes.length < 8)
    throw new Error(`${source}: ${bytes.length} bytes is too short for a safetensors file (8-byte header length missing)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new Error(`${source}: header length ${n} is larger than the 100 MB limit; not a safetensors file or corrupt`);
  const headerLength = Number(n);
  if (8 + headerLength > bytes.length) {
    throw new Error(`${source}: header length ${headerLength} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
    header = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: header is not valid UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${source}: header must be a JSON object`);
  }

  const metadata: Record<string, string> = {};
  const infos: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error(`${source}: "__metadata__" must be an object of strings`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new Error(`${source}: metadata "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${source}: tensor "${name}"`;
    if (typeof value !== 'object' || value === null) throw new Error(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPES)) throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: shape must be an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new Error(`${where}: data_offsets must be [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new Error(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const bytesNeeded = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPES[dtype as Dtype];
    if (end - begin !== bytesNeeded) {
      throw new Error(`${where}: data_offsets span ${end - begin} bytes, but ${dtype}[${shape.join(', ')}] needs ${bytesNeeded}`);
    }
    infos.push({ name, dtype: dtype as Dtype, shape: shape as number[], begin, end });
  }

  // The buffer must be tiled exactly: sorted by offset, each tensor starts where the previous ended.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const bufferStart = 8 + headerLength;
  const bufferLength = bytes.length - bufferStart;
  let expected = 0;
  for (const info of infos) {
    if (info.begin !== expected) {
      throw new Error(
        info.begin < expected
          ? `${source}: tensor "${info.name}" overlaps the previous tensor (begins at ${info.begin}, previous ends at ${expected})`
          : `${source}: gap in the byte buffer before tensor "${info.name}" (begins at ${info.begin}, expected ${expected})`,
      );
    }
    expected = info.end;
  }
  if (expected !== bufferLength) {
    throw new Error(
      expected > bufferLength
        ? `${source}: tensors need ${expected} data bytes but the file has ${bufferLength} after the header (truncated?)`
        : `${source}: ${bufferLength - expected} bytes after the last tensor are not covered by any tensor`,
    );
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const info of infos) {
    // A copy made through the Uint8Array constructor: Node Buffers' slice() would share the whole file's memory.
    const raw = new Uint8Array(bytes.subarray(bufferStart + info.begin, bufferStart + info.end));
    tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data: typedView(info.dtype, raw.buffer) });
  }
  return { tensors, metadata };
}

function typedView(dtype: Dtype, buffer: ArrayBuffer): TensorArray {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F64':
      return new Float64Array(buffer);
    case 'I8':
      return new Int8Array(buffer);
    case 'I16':
      return new Int16Array(buffer);
    case 'U16':
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'U32':
      return new Uint32Array(buffer);
    case 'I64':
      return new BigInt64Array(buffer);
    case 'U64':
      return new BigUint64Array(buffer);
    case 'U8':
    case 'BOOL':
    case 'F8_E5M2':
    case 'F8_E4M3':
      return new Uint8Array(buffer);
  }
}

// Rust compares String by bytes; for UTF-8 that equals code-point order, which differs from JS's
// UTF-16 code-unit order only for characters beyond U+FFFF. Compare code points to match.
function compareNames(a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0)!);
  const cb = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i]! - cb[i]!;
  return ca.length - cb.length;
}
