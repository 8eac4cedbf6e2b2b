/**
 * softmax, logSoftmax, crossEntropy and klDivergence against float64 CPU references on seeded random inputs:
 * odd sizes, batch 1, any axis, logits of magnitude 1e4, integer labels (i32 and u32) and soft targets, every
 * reduction. Gradients: analytic float64 references for the fused loss gradient, and finite-difference checks
 * for every rule. Bad input must fail before any GPU work with a message naming the op and the shapes.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

type Reduction = 'mean' | 'sum' | 'none';

/** log-softmax along an axis of a tensor seen as [outer, len, inner], in float64. */
function logSoftmaxRef(x: ArrayLike<number>, outer: number, len: number, inner: number): Float64Array {
  const out = new Float64Array(outer * len * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inner; k++) {
      const at = (j: number) => (o * len + j) * inner + k;
      let m = -Infinity;
      for (let j = 0; j < len; j++) m = Math.max(m, x[at(j)]!);
      let s = 0;
      for (let j = 0; j < len; j++) s += Math.exp(x[at(j)]! - m);
      for (let j = 0; j < len; j++) out[at(j)] = x[at(j)]! - m - Math.log(s);
    }
  }
  return out;
}

const expAll = (a: Float64Array) => a.map(Math.exp);

/** Random distributions per row (positive weights normalised to sum 1), some entries exactly 0. */
function randomDistributions(rows: number, cols: number, rng: Rng): Float32Array {
  const p = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const v = rng.next() < 0.2 ? 0 : rng.next() + 0.05;
      p[r * cols + c] = v;
      s += v;
    }
    if (s === 0) p[r * cols] = s = 1;
    for (let c = 0; c < cols; c++) p[r * cols + c] = p[r * cols + c]! / s;
  }
  return p;
}

function randomLabels(rows: number, cols: number, rng: Rng): Int32Array {
  return Int32Array.from({ length: rows }, () => rng.int(cols));
}

/** Target distributions as float64 rows: one-hot for labels. */
function targetRows(target: Int32Array | Float32Array, rows: number, cols: number): Float64Array {
  if (target instanceof Float32Array) return Float64Array.from(target);
  const t = new Float64Array(rows * cols);
  target.forEach((label, r) => (t[r * cols + label] = 1));
  return t;
}

function reduceRef(perRow: Float64Array, reduction: Reduction): Float64Array {
  if (reduction === 'none') return perRow;
  const total = perRow.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'sum' ? total : total / perRow.length);
}

/** Cross-entropy -sum t log softmax(x) per row (plus sum t log t for KL), reduced; logProbs: x is log q already. */
function rowLossRef(
  x: Float32Array,
  t: Float64Array,
  rows: number,
  cols: number,
  o: { kl: boolean; logProbs: boolean; reduction: Reduction },
): Float64Array {
  const logq = o.logProbs ? Float64Array.from(x) : logSoftmaxRef(x, rows, cols, 1);
  const perRow = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const tv = t[r * cols + c]!;
      if (tv !== 0) perRow[r]! += -tv * logq[r * cols + c]! + (o.kl ? tv * Math.log(tv) : 0);
    }
  }
  return reduceRef(perRow, o.reduction);
}

/** d loss / d logits with upstream gradient g (scalar or per row): (softmax * sum(t) - t) * g, / rows for 'mean'. */
function rowLossGradRef(
  x: Float32Array,
  t: Float64Array,
  rows: number,
  cols: number,
  g: ArrayLike<number>,
  reduction: Reduction,
): Float64Array {
  const p = expAll(logSoftmaxRef(x, rows, cols, 1));
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mass = 0;
    for (let c = 0; c < cols; c++) mass += t[r * cols + c]!;
    const gr = (reduction === 'none' ? g[r]! : g[0]!) / (reduction === 'mean' ? rows : 1);
    for (let c = 0; c < cols; c++) dx[r * cols + c] = (p[r * cols + c]! * mass - t[r * cols + c]!) * gr;
  }
  return dx;
}

const data = async (t: E.Tensor) => (await t.data()) as Float32Array;

describe('softmax and logSoftmax', () => {
  it('match the float64 reference on odd shapes, batch 1 and every axis', async () => {
    const rng = new Rng(101);
    const cases: { shape: number[]; axis: number }[] = [
      { shape: [1, 1], axis: -1 },
      { shape: [1, 7], axis: -1 },
      { shape: [13], axis: 0 },
      { shape: [5, 33], axis: 1 },
      { shape: [37, 129], axis: -1 },
      { shape: [3, 4, 5], axis: 0 },
      { shape: [3, 4, 5], axis: 1 },
      { shape: [2, 3, 4, 3], axis: 2 },
    ];
    for (const { shape, axis } of cases) {
      const a = axis < 0 ? axis + shape.length : axis;
      const outer = shape.slice(0, a).reduce((p, d) => p * d, 1);
      const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
      const xd = randomData(outer * shape[a]! * inner, rng, -6, 6);
      const ref = logSoftmaxRef(xd, outer, shape[a]!, inner);
      await E.scope(async () => {
        const x = E.tensor(xd, shape);
        const what = `[${shape}] axis ${axis}`;
        expectClose(await data(E.logSoftmax(x, axis)), ref, 1e-5, 2e-6, `logSoftmax ${what}`);
        expectClose(await data(E.softmax(x, axis)), expAll(ref), 1e-5, 1e-7, `softmax ${what}`);
      });
    }
  });

  it('stay finite and exact for logits of magnitude 1e4', async () => {
    const rows = [
      [1e4, -1e4, 1e4 - 1, 0],
      [-1e4, -1e4, -1e4, -1e4],
      [1e4, 1e4, 1e4, 1e4],
      [3e4, 0, -3e4, 2.9999e4],
    ];
    const xd = Float32Array.from(rows.flat());
    const ref = logSoftmaxRef(xd, 4, 4, 1);
    await E.scope(async () => {
      const x = E.tensor(xd, [4, 4]);
      const logp = await data(E.logSoftmax(x));
      const p = await data(E.softmax(x));
      expect(logp.every(Number.isFinite)).toBe(true);
      expect(p.every(Number.isFinite)).toBe(true);
      // log q = -2e4 or -6e4 is exact in f32 to its ulp (~0.002).
      expectClose(logp, ref, 1e-6, 1e-5, 'logSoftmax of large logits');
      expectClose(p, expAll(ref), 1e-6, 1e-7, 'softmax of large logits');
    });
  });

  it('rows of softmax sum to 1', async () => {
    const rng = new Rng(5);
    const sums = await E.scope(async () => data(E.sum(E.softmax(E.tensor(randomData(9 * 257, rng, -20, 20), [9, 257])), 1)));
    expectClose(sums, new Float64Array(9).fill(1), 0, 2e-6, 'row sums');
  });

  it('gradients match finite differences (last axis and a leading axis)', async () => {
    const rng = new Rng(17);
    await gradCheck((x) => E.softmax(x), [{ data: randomData(3 * 7, rng, -2, 2), shape: [3, 7] }]);
    await gradCheck((x) => E.logSoftmax(x), [{ data: randomData(3 * 7, rng, -2, 2), shape: [3, 7] }]);
    await gradCheck((x) => E.softmax(x, 0), [{ data: randomData(4 * 3 * 2, rng, -2, 2), shape: [4, 3, 2] }]);
    await gradCheck((x) => E.logSoftmax(x, 1), [{ data: randomData(2 * 5 * 3, rng, -2, 2), shape: [2, 5, 3] }]);
  });

  it('reject integer tensors and scalars naming the op', () => {
    expect(() => E.softmax(E.tensor([1, 2], [2], 'i32'))).toThrow(/softmax: expects an f32 tensor, got i32 \[2\]/);
    expect(() => E.logSoftmax(E.tensor(3))).toThrow(/logSoftmax: expects a tensor of rank >= 1/);
    expect(() => E.softmax(E.tensor([1, 2]), 1)).toThrow(/softmax: axis 1 is out of range/);
  });
});

describe('crossEntropy', () => {
  const reductions: Reduction[] = ['mean', 'sum', 'none'];

  it('with integer labels (i32 and u32) matches the reference for every reduction, incl. batch 1', async () => {
    const rng = new Rng(202);
    for (const [rows, cols] of [
      [1, 1],
      [1, 10],
      [7, 3],
      [33, 65],
    ] as const) {
      const xd = randomData(rows * cols, rng, -8, 8);
      const labels = randomLabels(rows, cols, rng);
      const t = targetRows(labels, rows, cols);
      for (const reduction of reductions) {
        const ref = rowLossRef(xd, t, rows, cols, { kl: false, logProbs: false, reduction });
        for (const dtype of ['i32', 'u32'] as const) {
          await E.scope(async () => {
            const loss = E.crossEntropy(E.tensor(xd, [rows, cols]), E.tensor(dtype === 'i32' ? labels : Uint32Array.from(labels)), {
              reduction,
            });
            expect(loss.shape).toEqual(reduction === 'none' ? [rows] : []);
            expectClose(await data(loss), ref, 1e-5, 1e-5, `[${rows}, ${cols}] ${dtype} ${reduction}`);
          });
        }
      }
    }
  });

  it('with soft targets (rows summing to 1, uniform rows) matches the reference', async () => {
    const rng = new Rng(303);
    for (const [rows, cols] of [
      [1, 5],
      [6, 11],
      [17, 100],
    ] as const) {
      const xd = randomData(rows * cols, rng, -8, 8);
      const td = randomDistributions(rows, cols, rng);
      // M-LOCK's uniform strategy: the first row is the uniform distribution.
      td.fill(1 / cols, 0, cols);
      const t = targetRows(td, rows, cols);
      for (let r = 0; r < rows; r++)
        expect(Math.abs(t.subarray(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
      for (const reduction of reductions) {
        const ref = rowLossRef(xd, t, rows, cols, { kl: false, logProbs: false, reduction });
        await E.scope(async () => {
          const loss = E.crossEntropy(E.tensor(xd, [rows, cols]), E.tensor(td, [rows, cols]), { reduction });
          expectClose(await data(loss), ref, 1e-5, 1e-5, `soft [${rows}, ${cols}] ${reduction}`);
        });
      }
    }
  });

  it('is finite and exact for logits of magnitude 1e4, labels and soft targets alike', async () => {
    const xd = Float32Array.from([1e4, -1e4, 0, 1e4 - 2, -1e4, 1e4, 5, -5, 0, 0, 0, 1e4]);
    const labels = Int32Array.from([1, 1, 3]);
    const td = Float32Array.from([0.5, 0.5, 0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0, 1, 0]);
    await E.scope(async () => {
      const x = E.tensor(xd, [3, 4]);
      const hard = await data(E.crossEntropy(x, E.tensor(labels), { reduction: 'none' }));
      const soft = await data(E.crossEntropy(x, E.tensor(td, [3, 4]), { reduction: 'none' }));
      expectClose(
        hard,
        rowLossRef(xd, targetRows(labels, 3, 4), 3, 4, { kl: false, logProbs: false, reduction: 'none' }),
        1e-6,
        1e-3,
        'labels',
      );
      expectClose(soft, rowLossRef(xd, targetRows(td, 3, 4), 3, 4, { kl: false, logProbs: false, reduction: 'none' }), 1e-6, 1e-3, 'soft');
      const x2 = E.tensor(xd, [3, 4]);
      x2.requiresGrad = true;
      E.crossEntropy(x2, E.tensor(labels)).backward();
      expect((await data(x2.grad!)).every(Number.isFinite)).toBe(true);
    });
  });

  it('gives NaN losses and gradients for labels outside [0, classes)', async () => {
    await E.scope(async () => {
      const x = E.tensor([
        [1, 2, 3],
        [1, 2, 3],
        [0, 0, 0],
      ]);
      x.requiresGrad = true;
      const loss = E.crossEntropy(x, E.tensor(Int32Array.from([0, 3, -1])), { reduction: 'none' });
      expect(Array.from(await data(loss), Number.isNaN)).toEqual([false, true, true]);
      loss.backward(E.ones([3]));
      expect(Array.from(await data(x.grad!), Number.isNaN)).toEqual([false, false, false, true, true, true, true, true, true]);
      x.grad!.dispose();
    });
  });

  it('fused gradient equals (softmax * sum(t) - t) * g / B against the float64 reference', async () => {
    const rng = new Rng(404);
    const [rows, cols] = [9, 23];
    const xd = randomData(rows * cols, rng, -5, 5);
    const labels = randomLabels(rows, cols, rng);
    // Soft rows that do not sum to 1 check the target-mass term of the gradient.
    const td = randomData(rows * cols, rng, 0, 0.3);
    const gRows = randomData(rows, rng, -1, 1);
    for (const target of [labels, td]) {
      const t = targetRows(target, rows, cols);
      for (const reduction of reductions) {
        const g = reduction === 'none' ? gRows : Float32Array.of(0.7);
        await E.scope(async () => {
          const x = E.tensor(xd, [rows, cols]);
          x.requiresGrad = true;
          const tt = target instanceof Int32Array ? E.tensor(target) : E.tensor(target, [rows, cols]);
          E.crossEntropy(x, tt, { reduction }).backward(E.tensor(g, reduction === 'none' ? [rows] : []));
          const kind = target instanceof Int32Array ? 'labels' : 'soft';
          expectClose(await data(x.grad!), rowLossGradRef(xd, t, rows, cols, g, reduction), 1e-4, 1e-6, `${kind} ${reduction}`);
          x.grad!.dispose();
        });
      }
    }
  });

  it('gradients match finite differences (labels and soft targets, every reduction); targets get none', async () => {
    const rng = new Rng(505);
    const [rows, cols] = [4, 6];
    const labels = E.tensor(randomLabels(rows, cols, rng));
    const soft = E.tensor(randomDistributions(rows, cols, rng), [rows, cols]);
    for (const reduction of reductions) {
      await gradCheck(
        (x) => E.crossEntropy(x, labels, { reduction }),
        [{ data: randomData(rows * cols, rng, -3, 3), shape: [rows, cols] }],
      );
      await gradCheck((x) => E.crossEntropy(x, soft, { reduction }), [{ data: randomData(rows * cols, rng, -3, 3), shape: [rows, cols] }]);
    }
    // Differentiating w.r.t. the target as well: the target's gradient is absent (reported as zeros).
    const { grads } = E.grad((x, t) => E.crossEntropy(x, t))(E.tensor(randomData(rows * cols, rng), [rows, cols]), soft);
    expect(Array.from(await data(grads[1]!))).toEqual(new Array(rows * cols).fill(0));
    labels.dispose();
    soft.dispose();
  });

  it('rejects bad labels and targets naming the op and the shapes', () => {
    const x = E.tensor(randomData(12, new Rng(1)), [3, 4]);
    expect(() => E.crossEntropy(x, E.tensor(Int32Array.from([0, 1])))).toThrow(
      /crossEntropy: got 2 labels \[2\] for 3 rows of logits \[3, 4\]/,
    );
    expect(() => E.crossEntropy(x, E.tensor([0, 1, 2]))).toThrow(/crossEntropy: labels must be an i32 or u32 tensor, got f32 \[3\]/);
    expect(() => E.crossEntropy(x, E.zeros([3, 5]))).toThrow(/crossEntropy: target f32 \[3, 5\] does not fit logits \[3, 4\]/);
    expect(() => E.crossEntropy(x, E.zeros([3, 4], 'i32'))).toThrow(
      /crossEntropy: target i32 \[3, 4\] does not fit logits \[3, 4\]; expected labels \(i32 or u32 \[3\]\) or target probabilities \(f32 \[3, 4\]\)/,
    );
    expect(() => E.crossEntropy(E.zeros([12]), E.zeros([12], 'i32'))).toThrow(
      /crossEntropy: expects f32 logits of shape \[batch, classes\], got f32 \[12\]/,
    );
    expect(() => E.crossEntropy(E.zeros([3, 0]), E.zeros([3], 'i32'))).toThrow(
      /crossEntropy: logits \[3, 0\] must have at least one class/,
    );
    expect(() => E.crossEntropy(x, E.zeros([3], 'i32'), { reduction: 'avg' as Reduction })).toThrow(
      /crossEntropy: reduction must be one of mean, sum, none, got 'avg'/,
    );
    x.dispose();
  });
});

describe('klDivergence', () => {
  it('matches the reference from logits and from log-probabilities, for every reduction', async () => {
    const rng = new Rng(606);
    for (const [rows, cols] of [
      [1, 4],
      [5, 9],
      [16, 31],
    ] as const) {
      const xd = randomData(rows * cols, rng, -6, 6);
      const td = randomDistributions(rows, cols, rng);
      const t = targetRows(td, rows, cols);
      const logq = Float32Array.from(logSoftmaxRef(xd, rows, cols, 1));
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const ref = rowLossRef(xd, t, rows, cols, { kl: true, logProbs: false, reduction });
        await E.scope(async () => {
          const p = E.tensor(td, [rows, cols]);
          expectClose(
            await data(E.klDivergence(E.tensor(xd, [rows, cols]), p, { reduction })),
            ref,
            1e-4,
            1e-5,
            `logits [${rows}, ${cols}] ${reduction}`,
          );
          const fromLogProbs = await data(E.klDivergence(E.tensor(logq, [rows, cols]), p, { reduction, logProbs: true }));
          expectClose(
            fromLogProbs,
            rowLossRef(logq, t, rows, cols, { kl: true, logProbs: true, reduction }),
            1e-4,
            1e-5,
            `logProbs [${rows}, ${cols}] ${reduction}`,
          );
          expectClose(fromLogProbs, ref, 1e-4, 1e-5, `logProbs vs logits [${rows}, ${cols}] ${reduction}`);
        });
      }
    }
  });

  it('is zero for Q = P (with zero entries in P) and positive otherwise', async () => {
    const rng = new Rng(707);
    const td = randomDistributions(8, 12, rng);
    const logp = td.map((v) => (v > 0 ? Math.log(v) : -30));
    const kl = await E.scope(async () =>
      data(E.klDivergence(E.tensor(logp, [8, 12]), E.tensor(td, [8, 12]), { logProbs: true, reduction: 'none' })),
    );
    expectClose(kl, new Float64Array(8), 0, 2e-6, 'KL(P || P)');
    const other = await E.scope(async () =>
      data(E.klDivergence(E.tensor(randomData(96, rng, -3, 3), [8, 12]), E.tensor(td, [8, 12]), { reduction: 'none' })),
    );
    expect(other.every((v) => v > 0)).toBe(true);
  });

  it('gradients match finite differences from logits and from log-probabilities', async () => {
    const rng = new Rng(808);
    const p = E.tensor(randomDistributions(3, 5, rng), [3, 5]);
    for (const reduction of ['mean', 'none'] as const) {
      await gradCheck((x) => E.klDivergence(x, p, { reduction }), [{ data: randomData(15, rng, -3, 3), shape: [3, 5] }]);
      await gradCheck((x) => E.klDivergence(x, p, { reduction, logProbs: true }), [{ data: randomData(15, rng, -3, -0.5), shape: [3, 5] }]);
    }
    p.dispose();
  });

  it('rejects labels and mismatched targets naming the op', () => {
    const x = E.zeros([2, 3]);
    expect(() => E.klDivergence(x, E.zeros([2], 'i32'))).toThrow(
      /klDivergence: target i32 \[2\] does not fit logits \[2, 3\]; expected target probabilities \(f32 \[2, 3\]\)/,
    );
    expect(() => E.klDivergence(x, E.zeros([3, 2]), { logProbs: true })).toThrow(
      /klDivergence: target f32 \[3, 2\] does not fit log-probabilities \[2, 3\]/,
    );
    x.dispose();
  });
});
