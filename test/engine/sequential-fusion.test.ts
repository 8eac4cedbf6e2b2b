/**
 * Sequential runs a Linear followed by a ReLU as one matmul with the relu epilogue, and a BatchNorm2d followed by
 * a ReLU with the relu in the normalisation and its gradient. The fused Linear forward must match
 * a float64 reference of x W1^T + b1 -> relu -> W2^T + b2, and its gradients must match those of the same layers
 * run one by one (unfused), on seeded inputs whose pre-activations stay away from the kink.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { BatchNorm2d, Conv2d, Dropout, Linear, ReLU, Sequential } from '../../engine/nn/index.js';
import { Rng } from '../../engine/random.js';
import { expectClose, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

describe('Sequential fuses Linear + ReLU', () => {
  it('matches the float64 reference and the unfused layers, forward and backward', async () => {
    const rng = new Rng(77);
    const [B, I, H, O] = [6, 5, 7, 3];
    const model = new Sequential(new Linear(I, H, { rng: rng.fork() }), new ReLU(), new Linear(H, O, { rng: rng.fork() }));
    const xd = randomData(B * I, rng);
    const x = E.tensor(xd, [B, I]);
    const [w1, b1, w2, b2] = (await Promise.all(model.parameters().map((p) => p.data()))) as Float32Array[];
    const ref = new Float64Array(B * O);
    for (let n = 0; n < B; n++) {
      const h = Array.from({ length: H }, (_, j) =>
        Math.max(0, b1![j]! + Array.from({ length: I }, (_, i) => xd[n * I + i]! * w1![j * I + i]!).reduce((a, v) => a + v, 0)),
      );
      for (let k = 0; k < O; k++) ref[n * O + k] = b2![k]! + h.reduce((a, v, j) => a + v * w2![k * H + j]!, 0);
    }
    const fused = model.forward(x);
    expectClose(await fused.data(), ref, 1e-5, 1e-5, 'fused forward');

    const grads = async (run: () => E.Tensor) => {
      for (const p of model.parameters()) p.grad?.dispose();
      for (const p of model.parameters()) p.grad = null;
      E.sum(E.mul(run(), E.tensor(randomData(B * O, new Rng(5)), [B, O]))).backward();
      return Promise.all(model.parameters().map((p) => p.grad!.data()));
    };
    const fusedGrads = await grads(() => model.forward(x));
    const unfusedGrads = await grads(() => model.layers.reduce((h, m) => m.forward(h), x));
    expect(fusedGrads.length).toBe(4);
    fusedGrads.forEach((g, i) => expectClose(g, Float64Array.from(unfusedGrads[i] as Float32Array), 1e-6, 1e-6, `gradient ${i}`));
  });
});

describe('Sequential fuses BatchNorm2d + ReLU', () => {
  it('matches the unfused layers, forward and backward, in training and eval mode', async () => {
    const rng = new Rng(78);
    const shape = [3, 4, 5, 6];
    const model = new Sequential(new Conv2d(4, 4, 3, { padding: 1, bias: false, rng: rng.fork() }), new BatchNorm2d(4), new ReLU());
    const x = E.tensor(randomData(3 * 4 * 5 * 6, rng, -2, 2), shape);
    const w = E.tensor(randomData(3 * 4 * 5 * 6, new Rng(6)), shape);
    // Both paths run the same steps in the same order, so the running statistics they update stay equal.
    const run = async (forward: () => E.Tensor) => {
      for (const p of model.parameters()) p.grad?.dispose();
      for (const p of model.parameters()) p.grad = null;
      const y = forward();
      E.sum(E.mul(y, w)).backward();
      return [await y.data(), ...(await Promise.all(model.parameters().map((p) => p.grad!.data())))];
    };
    for (const training of [true, false]) {
      model.train(training);
      const fused = await run(() => model.forward(x));
      const unfused = await run(() => model.layers.reduce((h, m) => m.forward(h), x));
      expect(fused.length).toBe(4);
      fused.forEach((v, i) =>
        expectClose(v, Float64Array.from(unfused[i] as Float32Array), 1e-5, 1e-6, `${training} output/gradient ${i}`),
      );
    }
  });
});

describe('Sequential fuses Linear + ReLU + Dropout (training)', () => {
  it('draws the same mask as the Dropout layer and gives the same output and gradients, bit for bit', async () => {
    const rng = new Rng(79);
    const [B, I, H, O] = [9, 6, 40, 3];
    const drop = new Dropout(0.3, 5);
    const model = new Sequential(new Linear(I, H, { rng: rng.fork() }), new ReLU(), drop, new Linear(H, O, { rng: rng.fork() }));
    const x = E.tensor(randomData(B * I, rng), [B, I]);
    const w = E.tensor(randomData(B * O, rng), [B, O]);
    const start = drop.rngState;
    const run = async (forward: () => E.Tensor) => {
      drop.rngState = start;
      for (const p of model.parameters()) p.grad?.dispose();
      for (const p of model.parameters()) p.grad = null;
      const y = forward();
      E.sum(E.mul(y, w)).backward();
      return [await y.data(), ...(await Promise.all(model.parameters().map((p) => p.grad!.data())))];
    };
    const fused = await run(() => model.forward(x));
    const unfused = await run(() => model.layers.reduce((h, m) => m.forward(h), x));
    expect(fused.length).toBe(5);
    fused.forEach((v, i) => expect(Array.from(v as Float32Array), `output/gradient ${i}`).toEqual(Array.from(unfused[i] as Float32Array)));
    // The mask both runs drew drops some hidden units and keeps others.
    drop.rngState = start;
    const mask = (await E.dropout(E.ones([B, H]), 0.3, { seed: drop.nextSeed() }).data()) as Float32Array;
    expect(mask.some((v) => v === 0) && mask.some((v) => v > 1)).toBe(true);
  });

  it('matmul with a dropout epilogue and no activation matches dropout of the product, with its gradient', async () => {
    const rng = new Rng(80);
    // Odd sizes, and multiples of 4 (on llvmpipe the product then writes C four floats at a time).
    for (const [m, k, n] of [
      [7, 5, 11],
      [8, 12, 16],
    ] as const) {
      const a = E.tensor(randomData(m * k, rng), [m, k]);
      const b = E.tensor(randomData(k * n, rng), [k, n]);
      for (const t of [a, b]) t.requiresGrad = true;
      const g = E.tensor(randomData(m * n, rng), [m, n]);
      const grads = async (y: E.Tensor) => {
        a.grad?.dispose();
        b.grad?.dispose();
        [a.grad, b.grad] = [null, null];
        E.sum(E.mul(y, g)).backward();
        return [await y.data(), await a.grad!.data(), await b.grad!.data()];
      };
      const fused = await grads(E.matmul(a, b, { dropout: { p: 0.4, seed: 123 } }));
      const unfused = await grads(E.dropout(E.matmul(a, b), 0.4, { seed: 123 }));
      fused.forEach((v, i) =>
        expect(Array.from(v as Float32Array), `${m}x${k}x${n} output/gradient ${i}`).toEqual(Array.from(unfused[i] as Float32Array)),
      );
    }
    const [a, b] = [E.ones([2, 3]), E.ones([3, 2])];
    expect(() => E.matmul(a, b, { dropout: { p: 1.5, seed: 1 } })).toThrow(/^matmul: p must be a probability/);
    expect(() => E.matmul(a, b, { dropout: { p: 0.5, seed: -1 } })).toThrow(/^matmul: training mode needs options.dropout.seed/);
  });
});
