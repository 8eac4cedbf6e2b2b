/**
 * dropout: the mask must be the documented hash of (seed, index), so it is reproduced here by an independent
 * CPU implementation (any adapter must draw the same mask); kept fraction within a statistical bound of 1 - p;
 * same seed same mask, different seeds different masks; eval and p = 0 are the identity, p = 1 zeros
 * everything; the gradient reuses the mask (finite differences with a fixed seed).
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

/** PCG output permutation of one LCG step, in exact 32-bit integer arithmetic. */
function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Keep decision for element i: top 24 bits of hash(hash(i) ^ hash(seed)) at least p * 2^24. */
function keptRef(n: number, p: number, seed: number): boolean[] {
  const hs = pcgHash(seed);
  const threshold = Math.round(p * 2 ** 24);
  return Array.from({ length: n }, (_, i) => pcgHash((pcgHash(i) ^ hs) >>> 0) >>> 8 >= threshold);
}

const data = async (t: E.Tensor) => (await t.data()) as Float32Array;

describe('dropout', () => {
  it('draws the documented hash mask and scales kept values by 1 / (1 - p)', async () => {
    const rng = new Rng(1);
    for (const [n, p, seed] of [
      [1, 0.5, 0],
      [257, 0.3, 42],
      [1000, 0.75, 4294967295],
      [4099, 0.1, 123456789],
    ] as const) {
      const xd = randomData(n, rng, -3, 3);
      const kept = keptRef(n, p, seed);
      const expected = xd.map((v, i) => (kept[i] ? v / (1 - p) : 0));
      const got = await E.scope(async () => data(E.dropout(E.tensor(xd, [n]), p, { seed })));
      expectClose(got, expected, 1e-6, 0, `n ${n} p ${p} seed ${seed}`);
    }
  });

  it('keeps a fraction within a statistical bound of 1 - p', async () => {
    const n = 1 << 16;
    for (const p of [0.1, 0.5, 0.9]) {
      const y = await E.scope(async () => data(E.dropout(E.ones([256, n / 256]), p, { seed: 7 })));
      const fraction = y.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0) / n;
      // Six standard deviations of a binomial proportion: a false failure is astronomically unlikely.
      expect(Math.abs(fraction - (1 - p))).toBeLessThan(6 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('gives the same mask for the same seed and different masks for different seeds', async () => {
    const n = 4096;
    const p = 0.5;
    const masks = await E.scope(async () => {
      const x = E.ones([n]);
      return Promise.all([1, 1, 2, 3].map(async (seed) => Array.from(await data(E.dropout(x, p, { seed })), (v) => v !== 0)));
    });
    expect(masks[1]).toEqual(masks[0]);
    for (const [a, b] of [
      [0, 2],
      [0, 3],
      [2, 3],
    ] as const) {
      // Independent masks disagree on a fraction 2p(1 - p) = 0.5 of the elements.
      const differ = masks[a]!.reduce((acc, v, i) => acc + (v !== masks[b]![i] ? 1 : 0), 0) / n;
      expect(Math.abs(differ - 0.5)).toBeLessThan(6 * Math.sqrt(0.25 / n));
    }
  });

  it('is the identity in eval mode and for p = 0, and zeros everything for p = 1', async () => {
    const xd = randomData(37, new Rng(2), -2, 2);
    await E.scope(async () => {
      const x = E.tensor(xd, [37]);
      expect(Array.from(await data(E.dropout(x, 0.5, { training: false })))).toEqual(Array.from(xd));
      expect(Array.from(await data(E.dropout(x, 0, { seed: 3 })))).toEqual(Array.from(xd));
      expect(Array.from(await data(E.dropout(x, 1, { seed: 3 })))).toEqual(new Array(37).fill(0));
      x.requiresGrad = true;
      E.sum(E.mul(E.dropout(x, 0.9, { training: false }), 2)).backward();
      expect(Array.from(await data(x.grad!))).toEqual(new Array(37).fill(2));
      x.grad!.dispose();
    });
  });

  it('backward reuses the forward mask', async () => {
    const n = 300;
    const rng = new Rng(4);
    const w = randomData(n, rng, -1, 1);
    const kept = keptRef(n, 0.4, 99);
    await E.scope(async () => {
      const x = E.tensor(randomData(n, rng), [n]);
      x.requiresGrad = true;
      E.dropout(x, 0.4, { seed: 99 }).backward(E.tensor(w, [n]));
      expectClose(
        await data(x.grad!),
        w.map((v, i) => (kept[i] ? v / 0.6 : 0)),
        1e-6,
        0,
        'dx',
      );
      x.grad!.dispose();
    });
    await gradCheck((x) => E.dropout(x, 0.4, { seed: 5 }), [{ data: randomData(6 * 7, rng), shape: [6, 7] }]);
  });

  it('rejects bad p, a missing seed and integer tensors naming the op', () => {
    const x = E.ones([4]);
    expect(() => E.dropout(x, 1.5, { seed: 1 })).toThrow(/dropout: p must be a probability in \[0, 1\], got 1.5/);
    expect(() => E.dropout(x, -0.1, { seed: 1 })).toThrow(/dropout: p must be a probability/);
    expect(() => E.dropout(x, 0.5)).toThrow(/dropout: training mode needs options.seed, an integer in \[0, 2\^32\), got undefined/);
    expect(() => E.dropout(x, 0.5, { seed: 1.5 })).toThrow(/dropout: training mode needs options.seed/);
    expect(() => E.dropout(E.ones([4], 'i32'), 0.5, { seed: 1 })).toThrow(/dropout: expects an f32 tensor, got i32 \[4\]/);
    x.dispose();
  });
});
