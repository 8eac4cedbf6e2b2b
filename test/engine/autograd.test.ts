/**
 * Reverse-mode autodiff: a finite-difference check of every gradient rule (with broadcasting and number
 * operands where the op takes them), then the graph mechanics: accumulation for a tensor used twice and
 * across backward calls, noGrad, the functional grad(), seeds, and errors for graphs that cannot be walked.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { size } from '../helpers/arrays.js';

useEngine();

const rng = new Rng(31337);
const input = (shape: number[], low = -1, high = 1) => ({ data: randomData(size(shape), rng, low, high), shape });
/** Values at least `margin` away from each point in `kinks`, so central differences never straddle a kink. */
const awayFrom = (shape: number[], kinks: number[], margin = 0.05) => {
  const x = input(shape);
  x.data = x.data.map((v) => (kinks.some((k) => Math.abs(v - k) < margin) ? v + 2 * margin : v));
  return x;
};
/** Distinct values spaced 0.1 apart in random order: extremes are unique and stay so under a 0.01 nudge. */
const spaced = (shape: number[]) => {
  const perm = rng.permutation(size(shape));
  return { data: Float32Array.from(perm, (p) => (p - perm.length / 2) * 0.1), shape };
};

describe('finite-difference checks of every gradient rule', () => {
  describe('binary ops, broadcast and with number operands', () => {
    const pairs: [number[], number[]][] = [
      [
        [3, 1],
        [1, 4],
      ],
      [[2, 3, 4], [4]],
      [[], [2, 3]],
    ];
    for (const [name, op] of [
      ['add', E.add],
      ['sub', E.sub],
      ['mul', E.mul],
    ] as const) {
      it(name, async () => {
        for (const [sa, sb] of pairs) await gradCheck((a, b) => op(a, b), [input(sa), input(sb)]);
        await gradCheck((a) => op(a, 1.5), [input([5])]);
        await gradCheck((a) => op(-0.5, a), [input([2, 2])]);
      });
    }

    it('div (divisors kept away from zero)', async () => {
      const divisor = (shape: number[]) => input(shape, 0.5, 2);
      for (const [sa, sb] of pairs) await gradCheck((a, b) => E.div(a, b), [input(sa), divisor(sb)]);
      await gradCheck((a) => E.div(a, 3), [input([4])]);
      await gradCheck((b) => E.div(1.5, b), [divisor([4])]);
    });

    for (const [name, op] of [
      ['maximum', E.maximum],
      ['minimum', E.minimum],
    ] as const) {
      it(`${name} (operands never within the step of each other)`, async () => {
        const a = input([3, 4]);
        const b = { data: a.data.map((v, i) => v + (i % 2 ? 0.3 : -0.3)), shape: [3, 4] };
        await gradCheck((x, y) => op(x, y), [a, b]);
        // Broadcast: b's row is offset from every a row by at least 0.05.
        const row = awayFrom([4], []);
        const grid = { data: Float32Array.from({ length: 12 }, (_, i) => row.data[i % 4]! + (rng.int(2) ? 0.2 : -0.2)), shape: [3, 4] };
        await gradCheck((x, y) => op(x, y), [grid, row]);
        await gradCheck((x) => op(x, 0.25), [awayFrom([10], [0.25])]);
        await gradCheck((x) => op(0.25, x), [awayFrom([10], [0.25])]);
      });
    }
  });

  describe('unary ops', () => {
    const cases: [string, (x: E.Tensor) => E.Tensor, { data: Float32Array; shape: number[] }][] = [
      ['neg', E.neg, input([2, 5])],
      ['exp', E.exp, input([2, 5], -2, 2)],
      ['log', E.log, input([2, 5], 0.5, 3)],
      ['sqrt', E.sqrt, input([2, 5], 0.5, 3)],
      ['abs', E.abs, awayFrom([2, 5], [0])],
      ['relu', E.relu, awayFrom([2, 5], [0])],
      ['sigmoid', E.sigmoid, input([2, 5], -4, 4)],
      ['tanh', E.tanh, input([2, 5], -2, 2)],
      ['cast to the same dtype', (x) => E.cast(x, 'f32'), input([3])],
    ];
    for (const [name, op, x] of cases) it(name, async () => gradCheck((t) => op(t), [x]));

    it('powScalar: integer exponents (negative bases too), fractional, negative and zero exponents', async () => {
      for (const p of [2, 3]) await gradCheck((x) => E.powScalar(x, p), [input([7], -2, 2)]);
      for (const p of [0.5, 1.5, -1, -2.5]) await gradCheck((x) => E.powScalar(x, p), [input([7], 0.5, 2)]);
      await gradCheck((x) => E.powScalar(x, 0), [input([7])]);
    });
  });

  it('where: both branches, broadcast, and with a number branch', async () => {
    const cond = E.keep(E.tensor([1, 0, 1, 0, 0, 1], [2, 3]));
    await gradCheck((a, b) => E.where(cond, a, b), [input([2, 3]), input([3])]);
    await gradCheck((a) => E.where(cond, a, 0.5), [input([1, 3])]);
    await gradCheck((b) => E.where(cond, -2, b), [input([2, 3])]);
    cond.dispose();
  });

  describe('reductions', () => {
    const axesCases: [number | number[] | undefined, boolean][] = [
      [undefined, false],
      [1, false],
      [[0, 2], true],
      [-1, true],
      [[0, 1, 2], false],
    ];
    for (const [name, op] of [
      ['sum', E.sum],
      ['mean', E.mean],
      ['max', E.max],
      ['min', E.min],
    ] as const) {
      it(`${name} over several axes, with and without keepDims`, async () => {
        for (const [axes, keepDims] of axesCases) await gradCheck((x) => op(x, axes, { keepDims }), [spaced([2, 3, 4])]);
      });
    }
  });

  describe('layout and indexing ops', () => {
    it('reshape, expandDims, squeeze', async () => {
      await gradCheck((x) => E.mul(E.reshape(x, [3, -1]), E.reshape(x, [3, 4])), [input([2, 6])]);
      await gradCheck((x) => E.squeeze(E.expandDims(x, 1)), [input([3, 2])]);
    });

    it('transpose (rank 2 default and a rank-4 permutation)', async () => {
      await gradCheck((x) => E.transpose(x), [input([3, 4])]);
      await gradCheck((x) => E.transpose(x, [2, 0, 3, 1]), [input([2, 3, 2, 2])]);
    });

    it('slice and pad', async () => {
      await gradCheck((x) => E.slice(x, [1, 0, 1], [2, -1, 2]), [input([3, 2, 4])]);
      await gradCheck(
        (x) =>
          E.pad(x, [
            [1, 0],
            [2, 1],
          ]),
        [input([2, 3])],
      );
    });

    it('broadcastTo', async () => {
      await gradCheck((x) => E.broadcastTo(x, [2, 3, 4]), [input([3, 1])]);
      await gradCheck((x) => E.broadcastTo(x, [3, 2]), [input([])]);
    });

    it('concat of three inputs along a middle axis', async () => {
      await gradCheck((a, b, c) => E.concat([a, b, c], 1), [input([2, 1, 3]), input([2, 3, 3]), input([2, 2, 3])]);
    });

    it('gather and takeAlongAxis with repeated indices (the backward sums them)', async () => {
      const idx = E.keep(E.tensor([2, 0, 2, 2, 1], [5], 'i32'));
      await gradCheck((x) => E.gather(x, idx, 1), [input([2, 3, 2])]);
      const along = E.keep(E.tensor([0, 0, 2, 1, 1, 1, 2, 0], [2, 4], 'i32'));
      await gradCheck((x) => E.takeAlongAxis(x, along, 1), [input([2, 3])]);
      idx.dispose();
      along.dispose();
    });
  });

  it('a composite: mean(sigmoid(x * w + b)) - max(tanh(x))', async () => {
    await gradCheck(
      (x, w, b) => E.sub(E.mean(E.sigmoid(E.add(E.mul(x, w), b)), 1), E.max(E.tanh(x), 1)),
      [spaced([3, 4]), input([4]), input([3, 1])],
    );
  });
});

describe('graph mechanics', () => {
  const leaf = (values: number[]) => {
    const t = E.tensor(values);
    t.requiresGrad = true;
    return t;
  };

  it('a tensor used twice accumulates both contributions: x*x and add(x, x)', async () => {
    const x = leaf([1, -2, 3.5]);
    E.sum(E.mul(x, x)).backward();
    expect(Array.from(await x.grad!.data())).toEqual([2, -4, 7]);
    const y = leaf([1, -2, 3.5]);
    E.sum(E.add(y, y)).backward();
    expect(Array.from(await y.grad!.data())).toEqual([2, 2, 2]);
  });

  it('a diamond graph sums the paths: y = e + e*e with e = exp(x)', async () => {
    const values = [0.5, -1, 0.25];
    const x = leaf(values);
    const e = E.exp(x);
    E.sum(E.add(e, E.mul(e, e))).backward();
    expectClose(
      await x.grad!.data(),
      values.map((v) => Math.exp(v) + 2 * Math.exp(2 * v)),
      1e-5,
      1e-6,
    );
  });

  it('gradients accumulate across two backward calls', async () => {
    const x = leaf([1, 2, -3]);
    E.sum(E.mul(x, 3)).backward();
    E.sum(E.mul(x, x)).backward();
    expect(Array.from(await x.grad!.data())).toEqual([3 + 2, 3 + 4, 3 - 6]);
  });

  it('a non-scalar output needs a seed of its shape', async () => {
    const x = leaf([1, 2, 3]);
    const y = E.mul(x, 2);
    expect(() => y.backward()).toThrow(/backward: the output has shape \[3\]; pass a seed gradient/);
    expect(() => y.backward(E.tensor([1, 2]))).toThrow(/backward: seed shape \[2\] does not match output shape \[3\]/);
    y.backward(E.tensor([1, 10, 100]));
    expect(Array.from(await x.grad!.data())).toEqual([2, 20, 200]);
  });

  it('backward from a tensor that needs no gradient throws', () => {
    expect(() => E.sum(E.tensor([1, 2])).backward()).toThrow(/backward: the output .* does not depend on any tensor with requiresGrad/);
  });

  it('backward a second time through a freed graph throws instead of silently dropping gradients', async () => {
    const x = leaf([1, 2]);
    const y = E.mul(x, x);
    E.sum(y).backward();
    expect(() => E.sum(y).backward()).toThrow(/backward: .*freed by an earlier backward/);
    // With retainGraph the graph can be walked again.
    const z = leaf([1, 2]);
    const w = E.mul(z, z);
    E.backward(E.sum(w), undefined, { retainGraph: true });
    E.sum(w).backward();
    expect(Array.from(await z.grad!.data())).toEqual([4, 8]);
  });

  it('backward through a disposed intermediate throws naming it', () => {
    const x = leaf([1, 2]);
    const y = E.exp(x);
    const loss = E.sum(y);
    y.dispose();
    expect(() => loss.backward()).toThrow(/backward: .*disposed/);
  });

  it('noGrad records nothing, for sync and async functions, and restores recording afterwards', async () => {
    const x = leaf([1, 2]);
    const y = E.noGrad(() => E.mul(x, x));
    expect(y.node).toBeNull();
    expect(y.requiresGrad).toBe(false);
    const z = await E.noGrad(async () => {
      await x.data();
      expect(E.isGradEnabled()).toBe(false);
      return E.exp(x);
    });
    expect(z.requiresGrad).toBe(false);
    expect(E.isGradEnabled()).toBe(true);
    expect(E.mul(x, x).requiresGrad).toBe(true);
    expect(() =>
      E.noGrad(() => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(E.isGradEnabled()).toBe(true);
  });

  it('comparisons and casts to integers carry no gradient', () => {
    const x = leaf([1, 2]);
    expect(E.greater(x, 1).requiresGrad).toBe(false);
    expect(E.cast(x, 'i32').requiresGrad).toBe(false);
    expect(E.argmax(x).requiresGrad).toBe(false);
  });

  it('grad(f) returns the value and one gradient per argument, leaving the arguments as they were', async () => {
    const a = E.tensor([1, 2, 3]);
    const b = E.tensor([4, -5, 6]);
    const unused = E.tensor([7, 8]);
    const { value, grads } = E.grad((p, q, _r) => E.sum(E.mul(p, q)))(a, b, unused);
    expect(await value.item()).toBe(4 - 10 + 18);
    expect(Array.from(await grads[0]!.data())).toEqual([4, -5, 6]);
    expect(Array.from(await grads[1]!.data())).toEqual([1, 2, 3]);
    expect(Array.from(await grads[2]!.data())).toEqual([0, 0]);
    for (const t of [a, b, unused]) {
      expect(t.requiresGrad).toBe(false);
      expect(t.grad).toBeNull();
    }
  });
});
