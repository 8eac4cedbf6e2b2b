/**
 * Test-only writer for MATLAB Level 5 MAT-files, following MathWorks' "MAT-File Format" document
 * (header, tagged data elements, small-element form, miMATRIX sub-elements, miCOMPRESSED via zlib).
 * It lets tests produce cases that scipy's writer (used for the fixed fixtures) does not: big-endian
 * files and a double array stored as miUINT8, as MATLAB itself does.
 */
import { deflateSync } from 'node:zlib';

export const miINT8 = 1;
export const miUINT8 = 2;
export const miINT32 = 5;
export const miUINT32 = 6;
export const miDOUBLE = 9;
export const miMATRIX = 14;
export const miCOMPRESSED = 15;

export const mxDOUBLE = 6;
export const mxUINT8 = 9;
export const mxCELL = 1;

export interface MatVarSpec {
  name: string;
  classCode: number;
  dims: number[];
  /** Stored element type and its raw bytes (already in the file's byte order). */
  realType: number;
  real: Uint8Array;
}

export function writeMat(vars: MatVarSpec[], options: { compressed?: boolean; bigEndian?: boolean } = {}): Uint8Array {
  const le = !options.bigEndian;
  const parts: Uint8Array[] = [header(le)];
  for (const v of vars) {
    const matrix = element(miMATRIX, matrixBody(v, le), le, false);
    parts.push(options.compressed ? element(miCOMPRESSED, deflateSync(matrix), le, false, false) : matrix);
  }
  return concat(parts);
}

function header(le: boolean): Uint8Array {
  const h = new Uint8Array(128).fill(0x20);
  h.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, written by a test'), 0);
  h.fill(0, 116, 124);
  const dv = new DataView(h.buffer);
  dv.setUint16(124, 0x0100, le);
  dv.setUint16(126, 0x4d49, le); // 'M' << 8 | 'I'
  return h;
}

function matrixBody(v: MatVarSpec, le: boolean): Uint8Array {
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, v.classCode, le);
  const dims = new Uint8Array(4 * v.dims.length);
  v.dims.forEach((d, i) => new DataView(dims.buffer).setInt32(4 * i, d, le));
  const name = new TextEncoder().encode(v.name);
  const parts = [element(miUINT32, flags, le, false), element(miINT32, dims, le, false), element(miINT8, name, le, true)];
  if (v.classCode !== mxCELL) parts.push(element(v.realType, v.real, le, true));
  return concat(parts);
}

/** A tagged element; `small` allows the 4-byte form; `pad` pads the data to 8 bytes. */
export function element(type: number, data: Uint8Array, le: boolean, small: boolean, pad = true): Uint8Array {
  if (small && data.length <= 4) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setUint32(0, (data.length << 16) | type, le);
    out.set(data, 4);
    return out;
  }
  const padded = pad ? Math.ceil(data.length / 8) * 8 : data.length;
  const out = new Uint8Array(8 + padded);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, le);
  dv.setUint32(4, data.length, le);
  out.set(data, 8);
  return out;
}

export function float64Bytes(values: number[], le: boolean): Uint8Array {
  const out = new Uint8Array(8 * values.length);
  values.forEach((v, i) => new DataView(out.buffer).setFloat64(8 * i, v, le));
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
