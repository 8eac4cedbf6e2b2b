import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { avgPool2d, globalAvgPool, maxPool2d, type Pool2dOptions } from '../../engine/ops/pool.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

type Geometry = Required<{ k: [number, number]; s: [number, number]; p: [number, number] }>;

/**
 * float64 reference, forward and backward; padded cells never win a max and count in the average's divisor.
 * With `dy`, also the input gradient: each window's dy goes to its first maximum, or in equal shares to its cells.
 */
function poolRef(
  kind: 'max' | 'avg',
  x: Float32Array,
  [N, C, H, W]: readonly [number, number, number, number],
  o: Geometry,
  dy?: Float32Array,
): { y: Float64Array; dx: Float64Array } {
  const oh = Math.floor((H + 2 * o.p[0] - o.k[0]) / o.s[0]) + 1;
  const ow = Math.floor((W + 2 * o.p[1] - o.k[1]) / o.s[1]) + 1;
  const out = new Float64Array(N * C * oh * ow);
  const dx = new Float64Array(x.length);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let arg = -1;
        let sum = 0;
        const cells: number[] = [];
        for (let ky = 0; ky < o.k[0]; ky++) {
          for (let kx = 0; kx < o.k[1]; kx++) {
            const y = oy * o.s[0] - o.p[0] + ky;
            const xx = ox * o.s[1] - o.p[1] + kx;
            if (y < 0 || xx < 0 || y >= H || xx >= W) continue;
            const at = (pl * H + y) * W + xx;
            const v = x[at]!;
            if (v > best) [best, arg] = [v, at];
            sum += v;
            cells.push(at);
          }
        }
        const o1 = (pl * oh + oy) * ow + ox;
        out[o1] = kind === 'max' ? best : sum / (o.k[0] * o.k[1]);
        if (!dy) continue;
        if (kind === 'max') dx[arg] = dx[arg]! + dy[o1]!;
        else for (const at of cells) dx[at] = dx[at]! + dy[o1]! / (o.k[0] * o.k[1]);
      }
    }
  }
  return { y: out, dx };
}

const CASES: { shape: [number, number, number, number]; k: [number, number]; s: [number, number]; p: [number, number] }[] = [
  { shape: [2, 3, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0] },
  { shape: [1, 5, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1] },
  { shape: [3, 2, 5, 6], k: [3, 2], s: [1, 2], p: [1, 0] },
  { shape: [1, 1, 4, 4], k: [4, 4], s: [4, 4], p: [0, 0] },
  // 2x2 windows that leave a row and a column uncovered (the gathering backward; the first case tiles).
  { shape: [2, 2, 7, 9], k: [2, 2], s: [2, 2], p: [0, 0] },
];

describe('pooling', () => {
  const rng = new E.Rng(21);
  for (const kind of ['max', 'avg'] as const) {
    for (const c of CASES) {
      it(`${kind}Pool2d ${JSON.stringify(c)} matches the float64 reference`, async () => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const x = randomData(n, rng);
        const o: Pool2dOptions = { kernelSize: c.k, stride: c.s, padding: c.p };
        const t = E.tensor(x, c.shape);
        const y = (kind === 'max' ? maxPool2d : avgPool2d)(t, o);
        expectClose(await y.data(), poolRef(kind, x, c.shape, c).y, 1e-5, 1e-6, `${kind}Pool2d`);
        t.dispose();
        y.dispose();
      });
      it(`${kind}Pool2d gradient ${JSON.stringify(c)} matches the float64 reference`, async () => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const x = Float32Array.from(rng.permutation(n), (v) => v * 0.05 - n * 0.025);
        await E.scope(async () => {
          const t = E.tensor(x, c.shape);
          t.requiresGrad = true;
          const y = (kind === 'max' ? maxPool2d : avgPool2d)(t, { kernelSize: c.k, stride: c.s, padding: c.p });
          const dy = randomData(y.size, rng);
          y.backward(E.tensor(dy, y.shape));
          expectClose(await t.grad!.data(), poolRef(kind, x, c.shape, c, dy).dx, 1e-6, 1e-7, `${kind}Pool2d dx`);
          t.grad!.dispose();
        });
      });
      it(`${kind}Pool2d gradient ${JSON.stringify(c.k)} stride ${JSON.stringify(c.s)} by finite differences`, async () => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        // Distinct values spaced wider than the finite-difference step keep the max's winner fixed.
        const perm = rng.permutation(n);
        const x = Float32Array.from(perm, (v) => v * 0.05 - n * 0.025);
        await gradCheck(
          (t) => (kind === 'max' ? maxPool2d : avgPool2d)(t, { kernelSize: c.k, stride: c.s, padding: c.p }),
          [{ data: x, shape: c.shape }],
          { eps: 1e-2, maxChecks: 20 },
        );
      });
    }
  }

  it('max pooling sends the gradient of a tie to the first maximum only', async () => {
    const x = E.tensor(new Float32Array(16).fill(1), [1, 1, 4, 4]);
    x.requiresGrad = true;
    E.sum(maxPool2d(x, { kernelSize: 2 })).backward();
    expect(Array.from((await x.grad!.data()) as Float32Array)).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('globalAvgPool averages over H and W', async () => {
    const data = randomData(2 * 3 * 5 * 4, rng);
    const y = globalAvgPool(E.tensor(data, [2, 3, 5, 4]));
    const ref = Array.from({ length: 6 }, (_, p) => data.slice(p * 20, p * 20 + 20).reduce((a, b) => a + b, 0) / 20);
    expectClose(await y.data(), ref, 1e-5, 1e-6, 'globalAvgPool');
  });

  it('rejects bad input before any GPU work', () => {
    const x = E.zeros([1, 2, 4, 4]);
    expect(() => maxPool2d(E.zeros([2, 4, 4]), { kernelSize: 2 })).toThrow(/maxPool2d: expects an NCHW tensor of rank 4, got \[2, 4, 4\]/);
    expect(() => maxPool2d(x, { kernelSize: 5 })).toThrow(/maxPool2d: a 5x5 window does not fit the 4x4 input/);
    expect(() => avgPool2d(x, { kernelSize: 2, stride: 0 })).toThrow(/avgPool2d: stride must be an integer >= 1/);
    expect(() => avgPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/padding/);
  });
});
