import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { BatchLoader, type PatchSource } from '../../engine/data/batches.js';
import { sampleAffine } from '../../engine/data/augment.js';
import type { ImageDataset } from '../../engine/data/dataset.js';
import { expectClose } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

function randomDataset(n: number, c: number, h: number, w: number, seed: number): ImageDataset {
  const rng = new E.Rng(seed);
  const images = Uint8Array.from({ length: n * c * h * w }, () => rng.int(256));
  const labels = Int32Array.from({ length: n }, () => rng.int(10));
  return { name: 'random', images, labels, n, c, h, w, numClasses: 10 };
}

const norm = { mean: [0.2, 0.5, 0.7], std: [0.3, 0.25, 0.5] };

/** float64 reference: bilinear sample through the affine map, zero outside, then normalise. */
function reference(
  ds: ImageDataset,
  indices: ArrayLike<number>,
  coeffs: Float32Array | null,
  patch: ((i: number, y: number, x: number, ch: number) => number | null) | null,
): Float64Array {
  const { c, h, w } = ds;
  const out = new Float64Array(indices.length * c * h * w);
  const px = (s: number, ch: number, y: number, x: number) =>
    y < 0 || x < 0 || y >= h || x >= w ? 0 : ds.images[((s * c + ch) * h + y) * w + x]!;
  for (let i = 0; i < indices.length; i++) {
    const s = indices[i]!;
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let v: number;
          const painted = patch?.(i, y, x, ch);
          if (painted !== null && painted !== undefined) v = painted;
          else if (coeffs) {
            const a = coeffs.subarray(6 * i, 6 * i + 6);
            const sx = a[0]! * x + a[1]! * y + a[2]!;
            const sy = a[3]! * x + a[4]! * y + a[5]!;
            const x0 = Math.floor(sx);
            const y0 = Math.floor(sy);
            const fx = sx - x0;
            const fy = sy - y0;
            v =
              (1 - fx) * (1 - fy) * px(s, ch, y0, x0) +
              fx * (1 - fy) * px(s, ch, y0, x0 + 1) +
              (1 - fx) * fy * px(s, ch, y0 + 1, x0) +
              fx * fy * px(s, ch, y0 + 1, x0 + 1);
          } else v = px(s, ch, y, x);
          out[((i * c + ch) * h + y) * w + x] = (v / 255 - norm.mean[ch]!) / norm.std[ch]!;
        }
      }
    }
  }
  return out;
}

describe('batch preparation on the GPU', () => {
  const ds = randomDataset(11, 3, 7, 9, 3);

  it('uploads packed bytes and normalises per channel (odd sizes, a partial last batch)', async () => {
    const loader = new BatchLoader(ds, { batchSize: 4, normalization: norm });
    const seen: number[] = [];
    for (const batch of loader.epoch(null)) {
      expectClose(await batch.x.data(), reference(ds, batch.indices, null, null), 1e-5, 1e-5, 'normalised batch');
      expect(Array.from((await batch.y.data()) as Int32Array)).toEqual(Array.from(batch.indices, (s) => ds.labels[s]!));
      seen.push(...batch.indices);
    }
    expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(loader.batchesPerEpoch()).toBe(3);
  });

  it('shuffles with a seed: same seed same order, all samples once', () => {
    const loader = new BatchLoader(ds, { batchSize: 4, shuffle: true });
    const a = Array.from(loader.order(new E.Rng(5)));
    const b = Array.from(loader.order(new E.Rng(5)));
    const c = Array.from(loader.order(new E.Rng(6)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 11 }, (_, i) => i));
  });

  it('random crop, flip and affine transforms match a float64 bilinear reference', async () => {
    for (const augment of [
      { cropPadding: 2, hflip: true },
      { rotateDegrees: 15, scale: [0.9, 1.1] as const, translate: 0.1 },
    ]) {
      const loader = new BatchLoader(ds, { batchSize: 11, normalization: norm, augment });
      const coeffRng = new E.Rng(9);
      const coeffs = new Float32Array(6 * 11);
      for (let i = 0; i < 11; i++) coeffs.set(sampleAffine(augment, 7, 9, coeffRng), 6 * i);
      const batch = loader.prepare(
        Int32Array.from({ length: 11 }, (_, i) => i),
        new E.Rng(9),
      );
      expectClose(await batch.x.data(), reference(ds, batch.indices, coeffs, null), 1e-4, 1e-3, 'augmented batch');
      batch.x.dispose();
      batch.y.dispose();
    }
  });

  it('crop + flip keeps pixel values exact (integer offsets)', () => {
    const rng = new E.Rng(1);
    for (let k = 0; k < 50; k++) {
      const a = sampleAffine({ cropPadding: 4, hflip: true }, 32, 32, rng);
      expect(Math.abs(a[0]!)).toBe(1);
      expect(a[1]! === 0).toBe(true);
      expect(Number.isInteger(a[2]!)).toBe(true);
      expect(Number.isInteger(a[5]!)).toBe(true);
    }
  });

  it('stamps patches from a bank on raw pixels before normalising', async () => {
    // Two bank entries padded to 2x3: entry 0 is one white pixel; entry 1 a 2x3 colour patch with a hole.
    const maxH = 2;
    const maxW = 3;
    const plane = maxH * maxW;
    const stride = (3 + 1) * plane;
    const bank = new Uint8Array(Math.ceil((2 * stride) / 4) * 4);
    for (let ch = 0; ch < 3; ch++) bank[ch * plane] = 255;
    bank[3 * plane] = 1;
    for (let ch = 0; ch < 3; ch++) for (let p = 0; p < plane; p++) bank[stride + ch * plane + p] = 10 + 40 * ch + p;
    for (let p = 0; p < plane; p++) bank[stride + 3 * plane + p] = p === 4 ? 0 : 1;
    const choice = [
      [0, 0, 0],
      [1, 5, 6],
      [-1, 0, 0],
      [1, 0, 1],
    ];
    const patches: PatchSource = {
      bank,
      maxH,
      maxW,
      stride,
      choose: (indices) => Int32Array.from(Array.from(indices).flatMap((s) => choice[s % 4]!)),
    };
    const loader = new BatchLoader(ds, { batchSize: 8, normalization: norm, patches });
    const indices = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const batch = loader.prepare(indices);
    const painted = (i: number, y: number, x: number, ch: number): number | null => {
      const [k, py, px] = choice[indices[i]! % 4]!;
      if (k! < 0) return null;
      const ty = y - py!;
      const tx = x - px!;
      if (ty < 0 || tx < 0 || ty >= maxH || tx >= maxW) return null;
      const entry = k! * stride;
      if (!bank[entry + 3 * plane + ty * maxW + tx]) return null;
      return bank[entry + ch * plane + ty * maxW + tx]!;
    };
    expectClose(await batch.x.data(), reference(ds, indices, null, painted), 1e-5, 1e-5, 'stamped batch');
    batch.x.dispose();
    batch.y.dispose();
    loader.dispose();
  });
});
