import { describe, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Adam, AdamW, SGD, cosineLr, multiStepLr } from '../../engine/optim/index.js';
import { expectClose, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { expect } from 'vitest';

useEngine();

/** float64 references of PyTorch's update rules. */
function sgdRef(p: Float64Array, grads: Float64Array[], o: { lr: number; momentum: number; nesterov: boolean; wd: number }): Float64Array {
  const v = new Float64Array(p.length);
  grads.forEach((g, step) => {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + o.wd * p[i]!;
      if (o.momentum > 0) {
        v[i] = step === 0 ? gi : o.momentum * v[i]! + gi;
        const d = o.nesterov ? gi + o.momentum * v[i]! : v[i]!;
        p[i]! -= o.lr * d;
      } else p[i]! -= o.lr * gi;
    }
  });
  return p;
}

function adamRef(
  p: Float64Array,
  grads: Float64Array[],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean },
): Float64Array {
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.decoupled) p[i]! *= 1 - o.lr * o.wd;
      else gi += o.wd * p[i]!;
      m[i] = o.b1 * m[i]! + (1 - o.b1) * gi;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * gi * gi;
      const mh = m[i]! / (1 - o.b1 ** t);
      const vh = v[i]! / (1 - o.b2 ** t);
      p[i]! -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return p;
}

async function runOptimizer(
  make: (params: E.Tensor[]) => { step(): void; zeroGrad(): void },
  p0: Float32Array,
  grads: Float32Array[],
): Promise<Float32Array> {
  const p = E.keep(E.tensor(p0, [p0.length]));
  p.requiresGrad = true;
  const opt = make([p]);
  for (const g of grads) {
    p.grad = E.keep(E.tensor(g, [g.length]));
    opt.step();
    opt.zeroGrad();
  }
  const out = (await p.data()) as Float32Array;
  p.dispose();
  return out;
}

// 1037 is updated one element per invocation, 1040 four at a time (vec4); neither fills whole workgroups.
describe.each([1037, 1040])('fused optimizer kernels match float64 references over several steps (%i elements)', (n) => {
  const rng = new E.Rng(11);
  const p0 = randomData(n, rng);
  const grads = Array.from({ length: 5 }, () => randomData(n, rng));
  const p64 = () => Float64Array.from(p0);
  const g64 = grads.map((g) => Float64Array.from(g));

  for (const cfg of [
    { lr: 0.1, momentum: 0, nesterov: false, wd: 0 },
    { lr: 0.05, momentum: 0.9, nesterov: false, wd: 1e-2 },
    { lr: 0.05, momentum: 0.9, nesterov: true, wd: 1e-4 },
  ]) {
    it(`SGD ${JSON.stringify(cfg)}`, async () => {
      const got = await runOptimizer(
        (ps) => new SGD(ps, { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.wd }),
        p0,
        grads,
      );
      expectClose(got, sgdRef(p64(), g64, cfg), 1e-5, 1e-6, 'sgd');
    });
  }
  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam'} with weight decay`, async () => {
      const o = { lr: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.05, decoupled };
      const got = await runOptimizer(
        (ps) => (decoupled ? new AdamW(ps, { lr: o.lr, weightDecay: o.wd }) : new Adam(ps, { lr: o.lr, weightDecay: o.wd })),
        p0,
        grads,
      );
      expectClose(got, adamRef(p64(), g64, o), 1e-4, 1e-6, decoupled ? 'adamw' : 'adam');
    });
  }
});

describe('optimizer options', () => {
  it('rejects bad hyper-parameters', () => {
    const p = E.tensor([1, 2]);
    expect(() => new SGD([p], { lr: 0 })).toThrow(/learning rate/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/Nesterov/);
    p.dispose();
  });
});

describe('learning-rate schedules', () => {
  it('multistep multiplies by gamma at each milestone', () => {
    const s = multiStepLr(0.1, [3, 6], 0.1);
    expect([0, 2, 3, 5, 6, 9].map((e) => s.at(e, 0))).toEqual(
      [0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1, 0.1 * 0.1 * 0.1].map((x) => expect.closeTo(x, 12)),
    );
  });
  it('cosine warms up linearly, then decays to the floor', () => {
    const s = cosineLr(1, 10, 2, 0.01);
    expect(s.at(1, 0)).toBeCloseTo(0.5, 12);
    expect(s.at(2, 0)).toBeCloseTo(1, 12);
    expect(s.at(6, 0)).toBeCloseTo(0.01 + 0.5 * 0.99 * (1 + Math.cos(Math.PI * 0.5)), 12);
    expect(s.at(10, 0)).toBeCloseTo(0.01, 12);
  });
});
