import { describe, expect, it } from 'vitest';
import { readMat5 } from '../../engine/data/mat5.js';
import {
  concat,
  element,
  float64Bytes,
  miDOUBLE,
  miINT32,
  miMATRIX,
  miUINT8,
  mxCELL,
  mxDOUBLE,
  mxUINT8,
  writeMat,
} from './builders/mat5.js';
import { SCIPY_COMPRESSED, SCIPY_PLAIN, fromBase64 } from './builders/scipy-mat-fixtures.js';

describe('MAT-file v5 reader', () => {
  for (const [label, b64] of [
    ['uncompressed', SCIPY_PLAIN],
    ['compressed', SCIPY_COMPRESSED],
  ] as const) {
    it(`reads scipy's ${label} output`, async () => {
      const vars = await readMat5(fromBase64(b64), 'fixture.mat');
      const X = vars.get('X')!;
      expect(X.className).toBe('uint8');
      expect(X.dims).toEqual([4, 3, 3, 2]);
      // Column-major: element (r,c,ch,i) at r + 4c + 12ch + 36i.
      expect(X.data![1 + 4 * 2 + 12 * 1 + 36 * 1]).toBe(1 + 20 + 40 + 120);
      const y = vars.get('y')!;
      expect(y.className).toBe('double');
      expect(y.dims).toEqual([2, 1]);
      expect([...(y.data as Float64Array)]).toEqual([10, 3]);
    });
  }

  it('widens narrow storage to the class type and reads big-endian files, compressed or not', async () => {
    for (const bigEndian of [false, true]) {
      for (const compressed of [false, true]) {
        const bytes = writeMat(
          [
            // A double array stored as miUINT8, as MATLAB does to save space.
            { name: 'labels', classCode: mxDOUBLE, dims: [1, 3], realType: miUINT8, real: Uint8Array.from([1, 200, 10]) },
            { name: 'v', classCode: mxDOUBLE, dims: [2, 1], realType: miDOUBLE, real: float64Bytes([0.5, -2], !bigEndian) },
            { name: 'c', classCode: mxCELL, dims: [0, 0], realType: miUINT8, real: new Uint8Array(0) },
          ],
          { bigEndian, compressed },
        );
        const vars = await readMat5(bytes, 'w.mat');
        expect(vars.get('labels')!.data).toEqual(Float64Array.from([1, 200, 10]));
        expect(vars.get('v')!.data).toEqual(Float64Array.from([0.5, -2]));
        expect(vars.get('c')!.className).toBe('cell');
        expect(vars.get('c')!.data).toBeUndefined();
      }
    }
  });

  it('rejects corrupt and unsupported files with the file name', async () => {
    const plain = fromBase64(SCIPY_PLAIN);
    await expect(readMat5(plain.subarray(0, 100), '/x/a.mat')).rejects.toThrow(/^\/x\/a\.mat: 100 bytes is too short/);
    await expect(readMat5(plain.subarray(0, plain.length - 8), '/x/a.mat')).rejects.toThrow(/^\/x\/a\.mat: top-level element 1: truncated/);
    const notMat = plain.slice();
    notMat.set(new TextEncoder().encode('HELLO!'), 0);
    await expect(readMat5(notMat, 'n.mat')).rejects.toThrow(/^n\.mat: not a MATLAB MAT-file/);
    const v73 = plain.slice();
    v73.set(new TextEncoder().encode('MATLAB 7.3 MAT-file'), 0);
    await expect(readMat5(v73, 'h.mat')).rejects.toThrow(/MATLAB 7\.3 MAT-files are HDF5/);
    const badEndian = plain.slice();
    badEndian[126] = 0x41;
    await expect(readMat5(badEndian, 'e.mat')).rejects.toThrow(/bad endian indicator/);

    const compressed = fromBase64(SCIPY_COMPRESSED);
    const corrupt = compressed.slice();
    corrupt[128 + 8 + 20]! ^= 0xff; // inside the first zlib stream
    await expect(readMat5(corrupt, 'z.mat')).rejects.toThrow(
      /^z\.mat: variable 0 \(compressed element\): corrupt or truncated deflate data/,
    );

    // Real part shorter than the dimensions require.
    const le = true;
    const flags = new Uint8Array(8);
    flags[0] = mxUINT8;
    const dims = new Uint8Array(8);
    new DataView(dims.buffer).setInt32(0, 2, le);
    new DataView(dims.buffer).setInt32(4, 2, le);
    const body = concat([
      element(6, flags, le, false),
      element(miINT32, dims, le, false),
      element(1, Uint8Array.from([0x58]), le, true),
      element(miUINT8, Uint8Array.from([1, 2, 3]), le, true),
    ]);
    const header = writeMat([]);
    await expect(readMat5(concat([header, element(miMATRIX, body, le, false)]), 's.mat')).rejects.toThrow(
      /^s\.mat: variable 0 "X": real part: 3 bytes for 4 elements/,
    );
  });
});
