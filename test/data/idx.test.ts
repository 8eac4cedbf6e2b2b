import { describe, expect, it } from 'vitest';
import { parseIdx, parseIdxPair } from '../../engine/data/idx.js';

/** Writes an IDX file the way the MNIST page describes it: 0,0,0x08,ndims, big-endian dims, data. */
function idx(dims: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 0x08, dims.length]);
  dims.forEach((d, k) => new DataView(out.buffer).setUint32(4 + 4 * k, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe('IDX parser', () => {
  const images = idx([2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const labels = idx([2], [7, 3]);

  it('parses a hand-written image/label pair', () => {
    const ds = parseIdxPair(images, labels, 'tiny');
    expect([ds.n, ds.c, ds.h, ds.w, ds.numClasses]).toEqual([2, 1, 2, 3, 10]);
    expect([...ds.labels]).toEqual([7, 3]);
    expect([...ds.images]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(parseIdx(labels, 1, 'l').dims).toEqual([2]);
  });

  it('names the file in every error', () => {
    const src = { imagesSource: '/data/imgs', labelsSource: '/data/labs' };
    const wrongMagic = images.slice();
    wrongMagic[3] = 2;
    expect(() => parseIdxPair(wrongMagic, labels, 't', src)).toThrow(
      /^\/data\/imgs: wrong IDX magic number 0x00000802, expected 0x00000803/,
    );
    expect(() => parseIdxPair(labels, labels, 't', src)).toThrow(/^\/data\/imgs: wrong IDX magic/);
    expect(() => parseIdxPair(images.subarray(0, images.length - 1), labels, 't', src)).toThrow(
      /^\/data\/imgs: truncated: dimensions 2x2x3 need 12 data bytes, file has 11/,
    );
    expect(() => parseIdxPair(images, idx([2], [7, 3, 0]), 't', src)).toThrow(/^\/data\/labs: 1 unexpected extra bytes/);
    expect(() => parseIdxPair(images, idx([2], [7, 10]), 't', src)).toThrow(/^\/data\/labs: label 10 of item 1 is outside \[0, 10\)/);
    expect(() => parseIdxPair(images, idx([3], [1, 2, 3]), 't', src)).toThrow(/^\/data\/labs: 3 labels, but \/data\/imgs has 2 images/);
    expect(() => parseIdxPair(images.subarray(0, 10), labels, 't', src)).toThrow(/^\/data\/imgs: truncated IDX header/);
    expect(() => parseIdxPair(Uint8Array.from([0x1f, 0x8b, 8, 0]), labels, 't', src)).toThrow(/gzip-compressed/);
  });
});
