/**
 * NaN and infinity follow PyTorch on every adapter: one test per row of the table in docs/numerics.md. The
 * expected values are PyTorch's (CPU), written out by hand; exact where PyTorch's result is a special value,
 * within 1e-6 where it is an ordinary number. Softmax-family rows run twice: rows short enough for one
 * invocation each, and rows of 10,000 (the chunked two-pass path).
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { decodeModelInto, decodeTrainingCheckpoint, encodeModel, encodeTrainingCheckpoint } from '../../engine/io/checkpoint.js';
import { Linear } from '../../engine/nn/layers.js';
import { SGD } from '../../engine/optim/index.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

const { NaN: nan } = Number;
const inf = Infinity;
const values = async (t: E.Tensor) => Array.from((await t.data()) as Float32Array);

/** Same special values (NaN, +-inf) in the same places, ordinary numbers within 1e-6. */
function expectSpecial(got: number[], want: number[], what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  want.forEach((w, i) => {
    const g = got[i]!;
    if (Number.isNaN(w) || !Number.isFinite(w)) expect(g, `${what}[${i}]`).toBe(w);
    else expect(Math.abs(g - w), `${what}[${i}]: got ${g}, want ${w}`).toBeLessThanOrEqual(1e-6);
  });
}

describe('elementwise', () => {
  it('relu(NaN) = NaN, relu(-inf) = 0, relu(inf) = inf', async () => {
    expectSpecial(await values(E.relu(E.tensor([nan, -inf, -1, 0, 2, inf]))), [nan, 0, 0, 0, 2, inf], 'relu');
  });

  it('maximum and minimum propagate NaN', async () => {
    const a = E.tensor([nan, 1, 2, -inf]);
    const b = E.tensor([0, nan, 1, 0]);
    expectSpecial(await values(E.maximum(a, b)), [nan, nan, 2, 0], 'maximum');
    expectSpecial(await values(E.minimum(a, b)), [nan, nan, 1, -inf], 'minimum');
    expectSpecial(await values(E.maximum(a, 0)), [nan, 1, 2, 0], 'maximum with a number');
  });

  it('exp overflows to inf and underflows to 0; exp(NaN) = NaN', async () => {
    expectSpecial(await values(E.exp(E.tensor([100, 89, -inf, nan, 0, -200]))), [inf, inf, 0, nan, 1, 0], 'exp');
  });

  it('log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, log(NaN) = NaN', async () => {
    expectSpecial(await values(E.log(E.tensor([0, -0, -1, -inf, inf, nan, 1]))), [-inf, -inf, nan, nan, inf, nan, 0], 'log');
  });

  it("relu's gradient passes the upstream gradient at NaN (as PyTorch's does) and at x > 0, and 0 at x <= 0", async () => {
    const x = E.tensor([nan, -inf, -1, 0, 2, inf]);
    x.requiresGrad = true;
    E.relu(x).backward(E.tensor([3, 3, 3, 3, 3, 3]));
    expect(await values(x.grad!)).toEqual([3, 0, 0, 0, 3, 3]);
  });

  it('the fused relu epilogue of matmul keeps NaN, on every variant', async () => {
    for (const variant of E.MATMUL_VARIANTS) {
      E.setMatmulVariant(variant);
      const a = E.tensor([nan, 1, 1, 1, 2, 2], [3, 2]);
      const y = E.matmul(a, E.tensor([1, 1], [2, 1]), { bias: E.tensor([-3]), activation: 'relu' });
      expectSpecial(await values(y), [nan, 0, 1], `${variant} matmul + relu`);
    }
    E.setMatmulVariant(null);
  });

  it('the fused relus of matmul and batch norm keep NaN, and their gradients pass the upstream gradient there', async () => {
    const b = E.tensor([1, 1], [2, 1]);
    b.requiresGrad = true;
    // Rows give NaN, 0 (masked) and 1: b's gradient is the sum of the unmasked rows' a, so NaN from the first row.
    const a = E.tensor([nan, 1, 1, 1, 2, 2], [3, 2]);
    E.matmul(a, b, { bias: E.tensor([-3]), activation: 'relu' }).backward(E.tensor([1, 1, 1], [3, 1]));
    expectSpecial(await values(b.grad!), [nan, 3], 'matmul + relu: db');
    // Eval mode with mean 0 and variance + eps = 1: the normalisation is the identity, then the relu.
    const x = E.tensor([nan, -inf, 1, inf], [1, 1, 2, 2]);
    x.requiresGrad = true;
    const stats = { runningMean: E.tensor([0]), runningVar: E.tensor([1 - 1e-5]) };
    const y = E.batchNorm2d(x, { ...stats, training: false, activation: 'relu' });
    expectSpecial(await values(y), [nan, 0, 1, inf], 'batchNorm2d + relu');
    y.backward(E.tensor([3, 3, 3, 3], [1, 1, 2, 2]));
    expectSpecial(await values(x.grad!), [3, 0, 3, 3], 'batchNorm2d + relu: dx');
  });
});

describe('max-pool', () => {
  it('a NaN anywhere in the window gives NaN; the gradient goes to the last NaN of the window', async () => {
    // One 2x2 window per test image: NaN last, NaN first, two NaNs, none.
    const x = E.tensor([1, 2, 3, nan, nan, 1, 2, 3, 4, nan, nan, 5, -inf, -inf, -inf, -inf], [4, 1, 2, 2]);
    x.requiresGrad = true;
    const y = E.maxPool2d(x, { kernelSize: 2 });
    expectSpecial(await values(y), [nan, nan, nan, -inf], 'maxPool2d');
    y.backward(E.ones([4, 1, 1, 1]));
    expect(await values(x.grad!)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]);
  });
});

describe('reductions', () => {
  it('max and min are NaN when a NaN is reduced; argmax and argmin give the first NaN', async () => {
    const x = E.tensor([1, nan, 3, nan, -inf, 2], [2, 3]);
    expectSpecial(await values(E.max(x)), [nan], 'max');
    expectSpecial(await values(E.min(x, 1)), [nan, nan], 'min per row');
    expectSpecial(await values(E.max(x, 0)), [nan, nan, 3], 'max per column');
    expect(Array.from((await E.argmax(x, 1).data()) as Int32Array)).toEqual([1, 0]);
    expect(Array.from((await E.argmin(x, 1).data()) as Int32Array)).toEqual([1, 0]);
    expect(Array.from((await E.argmax(x, 0).data()) as Int32Array)).toEqual([1, 0, 0]);
    // All -inf: the maximum is -inf at index 0.
    const low = E.tensor([-inf, -inf, -inf]);
    expectSpecial(await values(E.max(low)), [-inf], 'max of -inf');
    expect(Array.from((await E.argmax(low).data()) as Int32Array)).toEqual([0]);
  });

  it('chunked: the first NaN of 20,000 wins, whichever chunk it is in', async () => {
    const v = new Float32Array(20_000).map((_, i) => i);
    v[15_000] = nan;
    v[18_000] = nan;
    const x = E.tensor(v);
    expect(Array.from((await E.argmax(x).data()) as Int32Array)).toEqual([15_000]);
    expect(Array.from((await E.argmin(x).data()) as Int32Array)).toEqual([15_000]);
    expectSpecial(await values(E.max(x)), [nan], 'max');
    expectSpecial(await values(E.sum(x)), [nan], 'sum');
  });

  it('the mean of nothing is NaN, the sum of nothing 0', async () => {
    expectSpecial(await values(E.mean(E.zeros([0]))), [nan], 'mean of []');
    expectSpecial(await values(E.sum(E.zeros([2, 0]), 1)), [0, 0], 'sum over an empty axis');
  });
});

/** Rows of `cols` values: the given head, then -inf (short rows: exactly the head). */
function rows(heads: number[][], cols: number): E.Tensor {
  const out = new Float32Array(heads.length * cols).fill(-inf);
  heads.forEach((h, r) => out.set(h, r * cols + cols - h.length));
  return E.tensor(out, [heads.length, cols]);
}

describe.each([
  ['short rows', 4],
  ['rows of 10,000 (two passes)', 10_000],
])('softmax family on %s', (_, cols) => {
  // Each head is right-aligned after cols - 4 values of -inf (none for the short rows).
  const heads = [
    [-inf, -inf, -inf, -inf], // all -inf: NaN
    [-inf, -inf, 0, Math.log(3)], // -inf values get 0 (log: -inf); the rest 1/4, 3/4
    [0, inf, 1, 2], // a +inf: NaN everywhere
    [0, 1, nan, 2], // a NaN: NaN everywhere
  ];
  it('softmax and logSoftmax', async () => {
    const x = rows(heads, cols);
    const soft = await values(E.softmax(x));
    const logSoft = await values(E.logSoftmax(x));
    const wantSoft = [
      [nan, nan, nan, nan],
      [0, 0, 0.25, 0.75],
      [nan, nan, nan, nan],
      [nan, nan, nan, nan],
    ];
    const wantLog = [
      [nan, nan, nan, nan],
      [-inf, -inf, Math.log(0.25), Math.log(0.75)],
      [nan, nan, nan, nan],
      [nan, nan, nan, nan],
    ];
    for (let r = 0; r < 4; r++) {
      // The -inf padding of the long rows: 0 (log: -inf) in an ordinary row, NaN in a NaN row.
      const pad = (value: number) => new Array<number>(cols - 4).fill(r === 1 ? value : nan);
      expectSpecial(soft.slice(r * cols, (r + 1) * cols), [...pad(0), ...wantSoft[r]!], `softmax row ${r}`);
      expectSpecial(logSoft.slice(r * cols, (r + 1) * cols), [...pad(-inf), ...wantLog[r]!], `logSoftmax row ${r}`);
    }
  });

  it('crossEntropy: NaN rows, +inf for a label at -inf, a mean over rows', async () => {
    const x = rows([...heads, [0, 0, 0, 0], [0, -inf, 0, 0]], cols);
    const labels = E.tensor(Int32Array.from([cols - 1, cols - 1, cols - 1, cols - 1, cols - 2, cols - 3]));
    const perRow = await values(E.crossEntropy(x, labels, { reduction: 'none' }));
    expectSpecial(perRow, [nan, -Math.log(0.75), nan, nan, Math.log(4), inf], 'per-row cross-entropy');
    const ordinary = rows(
      [
        [0, 0, 0, 0],
        [0, -inf, 0, 0],
      ],
      cols,
    );
    expectSpecial(await values(E.crossEntropy(ordinary, E.tensor(Int32Array.from([cols - 1, cols - 3])))), [inf], 'mean with an inf row');
  });
});

describe('empty batches', () => {
  it('crossEntropy over no rows: mean NaN, sum 0, none []', async () => {
    const x = E.zeros([0, 4]);
    const labels = E.zeros([0], 'i32');
    expectSpecial(await values(E.crossEntropy(x, labels)), [nan], 'mean');
    expectSpecial(await values(E.crossEntropy(x, labels, { reduction: 'sum' })), [0], 'sum');
    expect(E.crossEntropy(x, labels, { reduction: 'none' }).shape).toEqual([0]);
    expectSpecial(await values(E.crossEntropy(x, E.zeros([0, 4]))), [nan], 'mean with soft targets');
  });
});

describe('non-finite weights on load', () => {
  it('a model file with a NaN or inf is refused naming the tensor, unless allowNonFinite', async () => {
    const source = new Linear(3, 2);
    const w = Float32Array.from((await source.weight.data()) as Float32Array);
    w[4] = nan;
    source.loadStateDict(
      new Map([
        ['weight', E.tensor(w, [2, 3])],
        ['bias', E.tensor([inf, 0])],
      ]),
    );
    const bytes = await encodeModel(source);
    const target = new Linear(3, 2);
    const before = await target.weight.data();
    expect(() => decodeModelInto(target, bytes, 'poisoned.safetensors')).toThrow(
      /poisoned\.safetensors: tensor 'bias' holds 1 non-finite value \(the first, Infinity, at flat index 0\); refusing to load it \(pass \{ allowNonFinite: true \}/,
    );
    expect(await target.weight.data()).toEqual(before);
    decodeModelInto(target, bytes, 'poisoned.safetensors', { allowNonFinite: true });
    expectSpecial(await values(target.weight), Array.from(w), 'weights loaded with allowNonFinite');
    expectSpecial(await values(target.bias!), [inf, 0], 'bias loaded with allowNonFinite');
    // Training checkpoints: the optimizer's state is checked too, before the model is touched.
    const optimizer = new SGD(source.parameters(), { lr: 0.1, momentum: 0.9 });
    const checkpoint = await encodeTrainingCheckpoint(source, optimizer, { epoch: 0, batch: 0, rng: new E.Rng(1).getState() });
    const fresh = new Linear(3, 2);
    expect(() => decodeTrainingCheckpoint(fresh, new SGD(fresh.parameters(), { lr: 0.1, momentum: 0.9 }), checkpoint)).toThrow(
      /checkpoint: tensor '\w+' holds \d non-finite value/,
    );
  });
});
