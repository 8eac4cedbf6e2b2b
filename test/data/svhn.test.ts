import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSvhn } from '../../engine/data/node/svhn.js';
import { parseSvhnMat } from '../../engine/data/svhn.js';
import { float64Bytes, miDOUBLE, miUINT8, mxDOUBLE, mxUINT8, writeMat } from './builders/mat5.js';
import { SCIPY_COMPRESSED, SCIPY_PLAIN, fromBase64 } from './builders/scipy-mat-fixtures.js';

describe('SVHN cropped digits', () => {
  it('converts X (HxWx3xN, column-major) to NCHW and label 10 to digit 0', async () => {
    for (const b64 of [SCIPY_PLAIN, SCIPY_COMPRESSED]) {
      const ds = await parseSvhnMat(fromBase64(b64), 'train_32x32.mat');
      expect([ds.n, ds.c, ds.h, ds.w, ds.numClasses]).toEqual([2, 3, 4, 3, 10]);
      expect([...ds.labels]).toEqual([0, 3]);
      // NCHW index of (i, ch, r, c) = ((i*3 + ch)*4 + r)*3 + c; value r + 10c + 40ch + 120i by construction.
      for (let i = 0; i < 2; i++)
        for (let ch = 0; ch < 3; ch++)
          for (let r = 0; r < 4; r++)
            for (let c = 0; c < 3; c++) expect(ds.images[((i * 3 + ch) * 4 + r) * 3 + c]).toBe(r + 10 * c + 40 * ch + 120 * i);
    }
  });

  function svhnMat(labels: number[]): Uint8Array {
    const n = labels.length;
    return writeMat([
      { name: 'X', classCode: mxUINT8, dims: [32, 32, 3, n], realType: miUINT8, real: new Uint8Array(32 * 32 * 3 * n).fill(7) },
      { name: 'y', classCode: mxDOUBLE, dims: [n, 1], realType: miDOUBLE, real: float64Bytes(labels, true) },
    ]);
  }

  it('rejects bad labels and missing variables', async () => {
    await expect(parseSvhnMat(svhnMat([1, 11]), 'bad.mat')).rejects.toThrow(/^bad\.mat: y\(2\) = 11, expected an integer in 1\.\.10/);
    await expect(parseSvhnMat(svhnMat([1.5]), 'bad.mat')).rejects.toThrow(/y\(1\) = 1\.5/);
    const onlyX = writeMat([{ name: 'X', classCode: mxUINT8, dims: [32, 32, 3, 1], realType: miUINT8, real: new Uint8Array(3072) }]);
    await expect(parseSvhnMat(onlyX, 'x.mat')).rejects.toThrow(/^x\.mat: expected variables X and y .* found: X/);
  });

  it('loads <split>_32x32.mat from a folder and explains where to get SVHN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'svhn-'));
    writeFileSync(join(dir, 'test_32x32.mat'), svhnMat([10, 2, 5]));
    const ds = await loadSvhn({ split: 'test', path: dir });
    expect(ds.name).toBe('svhn/test');
    expect([...ds.labels]).toEqual([0, 2, 5]);
    await expect(loadSvhn({ split: 'train', path: dir })).rejects.toThrow(
      /svhn dataset not found .*no train_32x32\.mat[\s\S]*http:\/\/ufldl\.stanford\.edu\/housenumbers\/[\s\S]*Nothing is downloaded/,
    );
  });
});
