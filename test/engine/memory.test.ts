/**
 * Memory stays flat over a long training-like loop (every intermediate and gradient returns to the pool), also
 * through Sequential's fused layers and an optimizer, and the scope rules that make that work: returns survive,
 * nested scopes hand returns outward, keep() escapes every scope, and async scopes that end out of order are
 * reported.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../engine/nn/index.js';
import { Adam } from '../../engine/optim/index.js';
import { scopeDepth } from '../../engine/scope.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

describe('a 1,000-step forward + backward loop', () => {
  it('keeps live tensors, live bytes and pool bytes flat after warm-up', async () => {
    // A two-layer net from elementwise and reduce ops: h = relu(sum_k x[n,k] W1[k,j] + b1), out = sum_j h w2.
    const param = (t: E.Tensor) => {
      t.requiresGrad = true;
      return t;
    };
    const W1 = param(E.randn([4, 6], { seed: 1 }));
    const b1 = param(E.zeros([6]));
    const w2 = param(E.randn([6], { seed: 2 }));
    const x = E.randn([8, 4, 1], { seed: 3 });
    const y = E.randn([8], { seed: 4 });
    const params = [W1, b1, w2];

    // Live tensors and bytes are exact from the first steps. The pool can still grow a little for a while:
    // a buffer released mid-batch is reusable only after that batch's submit, so the pool's high-water mark
    // depends on where the every-128-dispatch submits fall within a step, and all those alignments occur
    // within 128 steps (and again after each readback at a multiple of 100). After 200 steps it must be flat.
    const warmUp = 10;
    const poolWarmUp = 200;
    let baseline: E.MemoryInfo | null = null;
    let poolBaseline: E.MemoryInfo | null = null;
    for (let step = 0; step < 1000; step++) {
      const loss = await E.scope(async () => {
        const h = E.relu(E.add(E.sum(E.mul(x, W1), 1), b1));
        const out = E.sum(E.mul(h, w2), 1);
        const l = E.mean(E.powScalar(E.sub(out, y), 2));
        l.backward();
        for (const p of params) {
          expect(p.grad?.shape).toEqual(p.shape);
          p.grad!.dispose();
          p.grad = null;
        }
        // Read the loss now and then, as a training loop would.
        return step % 100 === 0 ? l.item() : null;
      });
      if (loss !== null) expect(Number.isFinite(loss)).toBe(true);
      const m = E.memory();
      if (step === warmUp) baseline = m;
      if (baseline) {
        expect(m.liveTensors, `live tensors at step ${step}`).toBe(baseline.liveTensors);
        expect(m.liveBytes, `live bytes at step ${step}`).toBe(baseline.liveBytes);
      }
      if (step === poolWarmUp) poolBaseline = m;
      if (poolBaseline) {
        expect(m.poolBytes, `pool bytes at step ${step}`).toBe(poolBaseline.poolBytes);
        expect(m.buffersCreated, `buffers created by step ${step}`).toBe(poolBaseline.buffersCreated);
      }
    }
    // What is left is exactly the five tensors created outside the loop.
    expect(baseline!.liveTensors).toBe(5);
    expect(baseline!.liveBytes).toBe(4 * (24 + 6 + 6 + 32 + 8));
    expect(E.scope(() => 0)).toBe(0);
    expect(scopeDepth()).toBe(0);
  });
});

describe('matmuls on uniform windows', () => {
  it('return their packed operands to the pool: live and pool bytes stay flat over many products and gradients', async () => {
    E.setMatmulVariant('uniform-8x8-wg8x8');
    try {
      const a = E.randn([40, 50], { seed: 5 });
      a.requiresGrad = true;
      const b = E.randn([50, 36], { seed: 6 });
      const poolWarmUp = 150;
      let baseline: E.MemoryInfo | null = null;
      let poolBaseline: E.MemoryInfo | null = null;
      for (let step = 0; step < 400; step++) {
        await E.scope(async () => {
          const l = E.sum(E.matmul(a, b, { transposeB: false }));
          l.backward();
          a.grad!.dispose();
          a.grad = null;
          if (step % 100 === 0) expect(Number.isFinite(await l.item())).toBe(true);
        });
        const m = E.memory();
        if (step === 10) baseline = m;
        if (baseline) expect(m.liveBytes, `live bytes at step ${step}`).toBe(baseline.liveBytes);
        if (step === poolWarmUp) poolBaseline = m;
        if (poolBaseline) {
          expect(m.poolBytes, `pool bytes at step ${step}`).toBe(poolBaseline.poolBytes);
          expect(m.buffersCreated, `buffers created by step ${step}`).toBe(poolBaseline.buffersCreated);
        }
      }
      expect(E.matmulConfigFor({ a: [40, 50], b: [50, 36] }).config).toBe('uniform-8x8-wg8x8');
      a.dispose();
      b.dispose();
    } finally {
      E.setMatmulVariant(null);
    }
  });
});

describe('training steps through the fused layers', () => {
  it('keep live tensors and bytes flat: conv + batch norm + relu, pooling, linear + relu + dropout, Adam', async () => {
    const rng = new E.Rng(9);
    const model = new Sequential(
      new Conv2d(2, 4, 3, { padding: 1, bias: false, rng: rng.fork() }),
      new BatchNorm2d(4),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(4 * 4 * 4, 12, { rng: rng.fork() }),
      new ReLU(),
      new Dropout(0.25, 3),
      new Linear(12, 3, { rng: rng.fork() }),
    );
    const opt = new Adam(model.parameters(), { lr: 1e-2 });
    const x = E.randn([5, 2, 8, 8], { seed: 5 });
    const labels = E.tensor([0, 1, 2, 1, 0], [5], 'i32');
    let baseline: E.MemoryInfo | null = null;
    for (let step = 0; step < 40; step++) {
      E.scope(() => {
        opt.zeroGrad();
        E.crossEntropy(model.forward(x), labels).backward();
        opt.step();
      });
      const m = E.memory();
      if (step === 3) baseline = m;
      if (baseline) {
        expect(m.liveTensors, `live tensors at step ${step}`).toBe(baseline.liveTensors);
        expect(m.liveBytes, `live bytes at step ${step}`).toBe(baseline.liveBytes);
      }
    }
    expect(Number.isFinite(await E.scope(() => E.crossEntropy(model.forward(x), labels).item()))).toBe(true);
    opt.zeroGrad();
    opt.dispose();
    for (const t of [x, labels]) t.dispose();
    model.dispose();
  });
});

describe('scopes', () => {
  it('dispose what they created except what they return (also inside arrays, objects and maps)', () => {
    const before = E.memory().liveTensors;
    let temp: E.Tensor | null = null;
    const r = E.scope(() => {
      temp = E.ones([2]);
      const a = E.add(temp, 1);
      return { a, list: [E.mul(a, 2)], map: new Map([['k', E.zeros([1])]]) };
    });
    expect(temp!.isDisposed).toBe(true);
    for (const t of [r.a, r.list[0]!, r.map.get('k')!]) expect(t.isDisposed).toBe(false);
    expect(E.memory().liveTensors).toBe(before + 3);
    for (const t of [r.a, r.list[0]!, r.map.get('k')!]) t.dispose();
    expect(E.memory().liveTensors).toBe(before);
  });

  it('nest: an inner return belongs to the outer scope, and keep() escapes all of them', () => {
    let fromInner: E.Tensor | null = null;
    let kept: E.Tensor | null = null;
    const outerResult = E.scope(() => {
      fromInner = E.scope(() => {
        kept = E.keep(E.ones([1]));
        return E.zeros([3]);
      }, 'inner');
      expect(fromInner.isDisposed).toBe(false);
      return E.add(fromInner, 1);
    }, 'outer');
    expect(fromInner!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    expect(outerResult.isDisposed).toBe(false);
    kept!.dispose();
    outerResult.dispose();
  });

  it('a scope whose function throws still disposes what it created', () => {
    let t: E.Tensor | null = null;
    expect(() =>
      E.scope(() => {
        t = E.ones([2]);
        throw new Error('step failed');
      }),
    ).toThrow('step failed');
    expect(t!.isDisposed).toBe(true);
    expect(scopeDepth()).toBe(0);
  });

  it('async scopes: returns survive the await', async () => {
    const t = await E.scope(async () => {
      const a = E.tensor([1, 2]);
      await a.data();
      return E.mul(a, 3);
    });
    expect(Array.from(await t.data())).toEqual([3, 6]);
    t.dispose();
  });

  it('an async scope that ends while a later one is still open throws, and the scope stack recovers', async () => {
    let releaseA!: () => void;
    let releaseB!: () => void;
    const gateA = new Promise<void>((r) => (releaseA = r));
    const gateB = new Promise<void>((r) => (releaseB = r));
    const a = E.scope(async () => {
      E.zeros([1]);
      await gateA;
    }, 'first');
    const b = E.scope(async () => {
      await gateB;
      return E.ones([1]);
    }, 'second');
    releaseA();
    await expect(a).rejects.toThrow(/scope 'first' ended while an inner scope 'second' was still open \(async scopes must nest\)/);
    releaseB();
    const fromB = await b;
    expect(fromB.isDisposed).toBe(false);
    fromB.dispose();
    // The failed scope must not stay on the stack, or every later tensor would be tracked by it forever.
    expect(scopeDepth()).toBe(0);
  });
});
