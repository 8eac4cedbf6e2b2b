/**
 * A reader for MATLAB Level 5 MAT-files (the format of `save -v6`/`-v7`; spec: MathWorks,
 * "MAT-File Format", matfile_format.pdf), limited to what dataset files need: numeric and char
 * arrays, optionally inside zlib-compressed elements. Cell, struct, object and sparse variables are
 * listed with their class and dimensions but their contents are not decoded. MATLAB 7.3 files are
 * HDF5 and are rejected with a message saying so.
 *
 * Layout: a 128-byte header (text, subsystem offset, version 0x0100, endian indicator "IM"/"MI"),
 * then data elements. Each element has an 8-byte tag (u32 type, u32 byte count) followed by its data
 * padded to 8 bytes, or, when the count is at most 4, the "small data element" form where type
 * and count share the first 4 bytes (count in the high 16 bits) and the data fills the next 4.
 * A variable is an miMATRIX element whose sub-elements are: array flags, dimensions, name, real
 * part, optional imaginary part. MATLAB often stores the real part in a narrower type than the
 * array's class (a double array of small integers as miUINT8); values are widened to the class type.
 */
import { inflateZlib } from './gzip.js';

// Data element types (spec table 1-1).
// prettier-ignore
const mi = {
  INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9,
  INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18,
} as const;

// prettier-ignore
const NUMERIC_TYPE_SIZE: Record<number, number> = {
  [mi.INT8]: 1, [mi.UINT8]: 1, [mi.INT16]: 2, [mi.UINT16]: 2, [mi.INT32]: 4, [mi.UINT32]: 4,
  [mi.SINGLE]: 4, [mi.DOUBLE]: 8, [mi.INT64]: 8, [mi.UINT64]: 8,
  [mi.UTF8]: 1, [mi.UTF16]: 2, [mi.UTF32]: 4,
};

// Array classes (spec table 1-3), indexed by class code.
// prettier-ignore
const CLASS_NAMES = [
  '', 'cell', 'struct', 'object', 'char', 'sparse', 'double', 'single',
  'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
] as const;

export type MatClass = Exclude<(typeof CLASS_NAMES)[number], ''>;

export type MatArrayData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface MatVariable {
  name: string;
  className: MatClass;
  /** MATLAB dimensions, at least two. Data is column-major (first index fastest). */
  dims: number[];
  /** Real part in the class's own type (char: UTF-16 code units); undefined for cell/struct/object/sparse. */
  data?: MatArrayData;
  /** Imaginary part of complex numeric arrays. */
  imag?: MatArrayData;
  logical: boolean;
}

/** Reads every variable of a Level 5 MAT-file. `source` names the file in error messages. */
export async function readMat5(bytes: Uint8Array, source: string): Promise<Map<string, MatVariable>> {
  if (bytes.length < 128) throw new Error(`${source}: ${bytes.length} bytes is too short for a MAT-file header`);
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  if (bytes[0] === 0x89 && bytes[1] === 0x48 && bytes[2] === 0x44 && bytes[3] === 0x46) {
    throw new Error(`${source}: this is an HDF5 file (MATLAB -v7.3); only Level 5 MAT-files (-v7 or older) are supported`);
  }
  if (text.startsWith('MATLAB 7.3')) {
    throw new Error(`${source}: MATLAB 7.3 MAT-files are HDF5 and not supported; re-save it with save(..., '-v7')`);
  }
  if (!text.startsWith('MATLAB')) throw new Error(`${source}: not a MATLAB MAT-file (header text does not start with "MATLAB")`);
  const indicator = String.fromCharCode(bytes[126]!, bytes[127]!);
  // The writer stores 'M'<<8|'I' in its native order, so reading "IM" means it was little-endian.
  let le: boolean;
  if (indicator === 'IM') le = true;
  else if (indicator === 'MI') le = false;
  else throw new Error(`${source}: bad endian indicator "${indicator}" at byte 126; not a Level 5 MAT-file`);
  const version = new DataView(bytes.buffer, bytes.byteOffset + 124, 2).getUint16(0, le);
  if (version !== 0x0100) throw new Error(`${source}: unsupported MAT-file version 0x${version.toString(16)}`);

  const vars = new Map<string, MatVariable>();
  let pos = 128;
  let index = 0;
  while (pos < bytes.length) {
    const el = readElement(bytes, pos, le, `${source}: top-level element ${index}`);
    let matrix: Uint8Array | undefined;
    const where = `${source}: variable ${index}`;
    if (el.type === mi.COMPRESSED) {
      const inflated = await inflateZlib(el.data, `${where} (compressed element)`);
      const inner = readElement(inflated, 0, le, `${where} (inside compressed element)`);
      if (inner.type !== mi.MATRIX) throw new Error(`${where}: compressed element holds type ${inner.type}, expected miMATRIX`);
      matrix = inner.data;
      // Compressed elements are not padded: the next element starts right after the zlib stream.
      pos = el.dataEnd;
    } else {
      if (el.type === mi.MATRIX) matrix = el.data;
      pos = el.next;
    }
    if (matrix && matrix.length > 0) {
      const v = parseMatrix(matrix, le, where);
      vars.set(v.name, v);
    }
    index++;
  }
  return vars;
}

interface Element {
  type: number;
  data: Uint8Array;
  /** End of the data, before padding. */
  dataEnd: number;
  /** Start of the following element (after padding). */
  next: number;
}

function readElement(bytes: Uint8Array, pos: number, le: boolean, where: string): Element {
  if (pos + 8 > bytes.length) throw new Error(`${where}: truncated data element tag at byte ${pos}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getUint32(pos, le);
  if (first >>> 16 !== 0) {
    const size = first >>> 16;
    if (size > 4) throw new Error(`${where}: small data element at byte ${pos} claims ${size} bytes (at most 4 allowed)`);
    return { type: first & 0xffff, data: bytes.subarray(pos + 4, pos + 4 + size), dataEnd: pos + 4 + size, next: pos + 8 };
  }
  const size = view.getUint32(pos + 4, le);
  const start = pos + 8;
  if (start + size > bytes.length) {
    throw new Error(`${where}: truncated: element at byte ${pos} needs ${size} bytes, only ${bytes.length - start} remain`);
  }
  const padded = start + Math.ceil(size / 8) * 8;
  return { type: first, data: bytes.subarray(start, start + size), dataEnd: start + size, next: Math.min(padded, bytes.length) };
}

function parseMatrix(bytes: Uint8Array, le: boolean, where: string): MatVariable {
  const flagsEl = readElement(bytes, 0, le, `${where}: array flags`);
  if (flagsEl.type !== mi.UINT32 || flagsEl.data.length !== 8) {
    throw new Error(`${where}: array flags must be 8 bytes of miUINT32, got type ${flagsEl.type}, ${flagsEl.data.length} bytes`);
  }
  const flags = new DataView(flagsEl.data.buffer, flagsEl.data.byteOffset, 8).getUint32(0, le);
  const classCode = flags & 0xff;
  const complex = (flags & 0x0800) !== 0;
  const logical = (flags & 0x0200) !== 0;
  const className = CLASS_NAMES[classCode];
  if (!className) throw new Error(`${where}: unknown array class ${classCode}`);

  const dimsEl = readElement(bytes, flagsEl.next, le, `${where}: dimensions`);
  if (dimsEl.type !== mi.INT32 || dimsEl.data.length % 4 !== 0 || dimsEl.data.length < 8) {
    throw new Error(`${where}: dimensions must be at least two miINT32 values`);
  }
  const dimsView = new DataView(dimsEl.data.buffer, dimsEl.data.byteOffset, dimsEl.data.length);
  const dims: number[] = [];
  for (let k = 0; k < dimsEl.data.length; k += 4) {
    const d = dimsView.getInt32(k, le);
    if (d < 0) throw new Error(`${where}: negative dimension ${d}`);
    dims.push(d);
  }

  const nameEl = readElement(bytes, dimsEl.next, le, `${where}: name`);
  if (nameEl.type !== mi.INT8 && nameEl.type !== mi.UINT8) throw new Error(`${where}: array name has type ${nameEl.type}, expected miINT8`);
  const name = new TextDecoder('latin1').decode(nameEl.data);
  const label = `${where} "${name}"`;

  const variable: MatVariable = { name, className, dims, logical };
  if (className === 'cell' || className === 'struct' || className === 'object' || className === 'sparse') return variable;

  const count = dims.reduce((a, b) => a * b, 1);
  const realEl = readElement(bytes, nameEl.next, le, `${label}: real part`);
  variable.data = convert(realEl, le, className, count, `${label}: real part`);
  if (complex) {
    const imagEl = readElement(bytes, realEl.next, le, `${label}: imaginary part`);
    variable.imag = convert(imagEl, le, className, count, `${label}: imaginary part`);
  }
  return variable;
}

type NumericClass = Exclude<MatClass, 'cell' | 'struct' | 'object' | 'sparse'>;

function allocate(cls: NumericClass, count: number): MatArrayData {
  switch (cls) {
    case 'double':
      return new Float64Array(count);
    case 'single':
      return new Float32Array(count);
    case 'int8':
      return new Int8Array(count);
    case 'uint8':
      return new Uint8Array(count);
    case 'int16':
      return new Int16Array(count);
    case 'uint16':
    case 'char':
      return new Uint16Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'uint32':
      return new Uint32Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'uint64':
      return new BigUint64Array(count);
  }
}

/** Decodes the stored element and widens (or narrows, as MATLAB itself would) it to the class type. */
function convert(el: Element, le: boolean, cls: NumericClass, count: number, where: string): MatArrayData {
  const size = NUMERIC_TYPE_SIZE[el.type];
  if (size === undefined) throw new Error(`${where}: unsupported data type ${el.type}`);
  if (el.data.length !== count * size) {
    throw new Error(`${where}: ${el.data.length} bytes for ${count} elements of ${size} bytes each`);
  }
  // Fast path for the common byte case (image data): no per-element reads.
  if (cls === 'uint8' && el.type === mi.UINT8) return el.data.slice();

  const out = allocate(cls, count);
  const view = new DataView(el.data.buffer, el.data.byteOffset, el.data.byteLength);
  const read = reader(el.type, view, le);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) {
      const v = read(i);
      out[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    }
  } else {
    for (let i = 0; i < count; i++) {
      const v = read(i);
      out[i] = typeof v === 'bigint' ? Number(v) : v;
    }
  }
  return out;
}

function reader(type: number, view: DataView, le: boolean): (i: number) => number | bigint {
  switch (type) {
    case mi.INT8:
      return (i) => view.getInt8(i);
    case mi.UINT8:
    case mi.UTF8:
      return (i) => view.getUint8(i);
    case mi.INT16:
      return (i) => view.getInt16(2 * i, le);
    case mi.UINT16:
    case mi.UTF16:
      return (i) => view.getUint16(2 * i, le);
    case mi.INT32:
      return (i) => view.getInt32(4 * i, le);
    case mi.UINT32:
    case mi.UTF32:
      return (i) => view.getUint32(4 * i, le);
    case mi.SINGLE:
      return (i) => view.getFloat32(4 * i, le);
    case mi.DOUBLE:
      return (i) => view.getFloat64(8 * i, le);
    case mi.INT64:
      return (i) => view.getBigInt64(8 * i, le);
    case mi.UINT64:
      return (i) => view.getBigUint64(8 * i, le);
    default:
      throw new Error(`unsupported MAT data type ${type}`);
  }
}
