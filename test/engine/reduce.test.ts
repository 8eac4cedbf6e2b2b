/**
 * Reductions against a float64 CPU reference on seeded random inputs: every op over single, multiple
 * non-adjacent, all and negative axes, with and without keepDims; reductions long enough to take the chunked
 * multi-pass path; first-index ties for argmax/argmin; zero-size inputs.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { size } from '../helpers/arrays.js';

useEngine();

type RefOp = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin';

/**
 * Reduce `data` (row-major, `shape`) over `axes` in float64. Output elements are visited in order; each one
 * walks its reduced sub-block in row-major order, so arg-reductions report the first extreme.
 */
function reduceRef(
  op: RefOp,
  data: ArrayLike<number>,
  shape: number[],
  axes: number[],
  keepDims = false,
): { data: Float64Array; shape: number[] } {
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const keptAxes = shape.map((_, i) => i).filter((i) => !ax.includes(i));
  const strides = shape.map((_, i) => size(shape.slice(i + 1)));
  const keptShape = keptAxes.map((i) => shape[i]!);
  const redShape = ax.map((i) => shape[i]!);
  const out = new Float64Array(size(keptShape));
  const offsetOf = (flat: number, dims: number[], axesOf: number[]) => {
    let off = 0;
    for (let k = dims.length - 1; k >= 0; k--) {
      off += (flat % dims[k]!) * strides[axesOf[k]!]!;
      flat = Math.floor(flat / dims[k]!);
    }
    return off;
  };
  for (let o = 0; o < out.length; o++) {
    const base = offsetOf(o, keptShape, keptAxes);
    const values = Array.from({ length: size(redShape) }, (_, r) => data[base + offsetOf(r, redShape, ax)]!);
    const best = (better: (x: number, y: number) => boolean) => values.reduce((bi, v, i) => (better(v, values[bi]!) ? i : bi), 0);
    out[o] = {
      sum: () => values.reduce((a, b) => a + b, 0),
      mean: () => values.reduce((a, b) => a + b, 0) / values.length,
      max: () => values.reduce((a, b) => Math.max(a, b), -Infinity),
      min: () => values.reduce((a, b) => Math.min(a, b), Infinity),
      argmax: () => best((x, y) => x > y),
      argmin: () => best((x, y) => x < y),
    }[op]();
  }
  return { data: out, shape: keepDims ? shape.map((d, i) => (ax.includes(i) ? 1 : d)) : keptShape };
}

const engineOp = {
  sum: E.sum,
  mean: E.mean,
  max: E.max,
  min: E.min,
  // Arg-reductions take one axis; the table passes it as a one-element list.
  argmax: (x: E.Tensor, axes?: readonly number[], o?: E.ReduceOptions) => E.argmax(x, axes?.[0], o),
  argmin: (x: E.Tensor, axes?: readonly number[], o?: E.ReduceOptions) => E.argmin(x, axes?.[0], o),
};

async function check(
  op: RefOp,
  x: E.Tensor,
  host: ArrayLike<number>,
  axes: number[] | undefined,
  keepDims: boolean,
  rtol: number,
  atol: number,
) {
  const what = `${op}(${x.dtype}[${x.shape.join(', ')}], axes ${JSON.stringify(axes)}, keepDims ${keepDims})`;
  const got = engineOp[op](x, axes, { keepDims });
  const want = reduceRef(op, host, [...x.shape], axes ?? x.shape.map((_, i) => i), keepDims);
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  if (op === 'argmax' || op === 'argmin') expect(got.dtype, what).toBe('i32');
  expectClose(await got.data(), want.data, rtol, atol, what);
}

const rng = new Rng(8675309);

describe('sum, mean, max, min over any axes', () => {
  const shape = [3, 4, 5, 2];
  const axesCases: (number[] | undefined)[] = [[0], [1], [3], [-1], [-3], [0, 2], [1, 3], [0, 2, 3], [0, 1, 2, 3], undefined];
  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    it(`${op} on f32 ${JSON.stringify(shape)}`, async () => {
      const data = randomData(size(shape), rng, -2, 2);
      const x = E.tensor(data, shape);
      for (const axes of axesCases) for (const keepDims of [false, true]) await check(op, x, data, axes, keepDims, 1e-5, 1e-5);
    });
  }

  for (const op of ['sum', 'max', 'min'] as const) {
    it(`${op} on i32 is exact`, async () => {
      const data = Int32Array.from({ length: 60 }, () => rng.int(20001) - 10000);
      const x = E.tensor(data, [5, 3, 4]);
      for (const axes of [[1], [0, 2], undefined]) await check(op, x, data, axes, false, 0, 0);
    });
  }

  it('max and min of infinities are infinities (their start values are the identities -inf and +inf)', async () => {
    const x = E.tensor([-Infinity, -Infinity, Infinity, Infinity], [2, 2]);
    expect(Array.from(await E.max(x, 1).data())).toEqual([-Infinity, Infinity]);
    expect(Array.from(await E.min(x, 1).data())).toEqual([-Infinity, Infinity]);
    expect(Array.from(await E.argmax(x, 1).data())).toEqual([0, 0]);
  });

  it('reducing a shape-[] tensor over no axes, and a size-1 axis, are identities', async () => {
    const s = E.sum(E.tensor(3.5));
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(3.5);
    const m = E.max(E.tensor([[1.5, -2]]), 0);
    expect(m.shape).toEqual([2]);
    expect(Array.from(await m.data())).toEqual([1.5, -2]);
  });
});

describe('argmax and argmin', () => {
  it('along every axis, negative axes, keepDims', async () => {
    const shape = [4, 3, 5];
    const data = randomData(size(shape), rng);
    const x = E.tensor(data, shape);
    for (const op of ['argmax', 'argmin'] as const) {
      for (const axis of [0, 1, 2, -1, -3]) for (const keepDims of [false, true]) await check(op, x, data, [axis], keepDims, 0, 0);
    }
  });

  it('ties go to the first index, also along a non-contiguous axis and on i32', async () => {
    // Values from {-1, 0, 1}: every row holds ties for both the max and the min.
    for (const dtype of ['f32', 'i32'] as const) {
      const data = Float32Array.from({ length: 6 * 7 }, () => rng.int(3) - 1);
      const x = E.tensor(Array.from(data), [6, 7], dtype);
      for (const op of ['argmax', 'argmin'] as const) for (const axis of [0, 1]) await check(op, x, data, [axis], false, 0, 0);
    }
    expect(Array.from(await E.argmax(E.tensor([2, 5, 5, 1, 5])).data())).toEqual([1]);
    expect(Array.from(await E.argmin(E.tensor([2, 1, 5, 1, 5])).data())).toEqual([1]);
  });

  it('all-negative rows (below any naive zero start) and large rows', async () => {
    const data = randomData(3 * 5000, rng, -1e6, -1);
    const x = E.tensor(data, [3, 5000]);
    for (const op of ['argmax', 'argmin'] as const) await check(op, x, data, [1], false, 0, 0);
  });
});

describe('long reductions take the chunked path and still match', () => {
  it('sum and max over 1,000,000 elements (two passes)', async () => {
    const data = randomData(1_000_000, rng, 0, 1);
    const x = E.tensor(data);
    // f32 partial sums of ~1000 terms each: relative error well under 1e-5 for positive data.
    await check('sum', x, data, undefined, false, 1e-5, 0);
    await check('max', x, data, [0], true, 0, 0);
    await check('min', x, data, undefined, false, 0, 0);
  });

  it('mean over 3,000,000 elements (three passes: 2930 partials are chunked again)', async () => {
    const data = randomData(3_000_000, rng, -1, 3);
    await check('mean', E.tensor(data), data, undefined, false, 1e-5, 0);
  });

  it('[3, 50000] over axis 1 and [50000, 3] over axis 0 (strided chunks)', async () => {
    const data = randomData(150_000, rng, -1, 1);
    const wide = E.tensor(data, [3, 50000]);
    const tall = E.tensor(data, [50000, 3]);
    // Signed data sums to ~sqrt(n): compare with an absolute tolerance scaled by the number of terms.
    for (const op of ['sum', 'mean', 'max', 'min'] as const) {
      await check(op, wide, data, [1], false, 1e-5, op === 'sum' ? 1e-3 : 1e-7);
      await check(op, tall, data, [0], true, 1e-5, op === 'sum' ? 1e-3 : 1e-7);
    }
  });

  it('more outputs than 65535 workgroups of 64 hold: argmax over pairs spreads over a 2-D grid', async () => {
    const rows = 64 * 65535 + 333;
    const data = randomData(2 * rows, rng);
    const got = await E.argmax(E.tensor(data, [rows, 2]), 1).data();
    let bad = -1;
    for (let o = 0; o < rows && bad < 0; o++) if (got[o] !== (data[2 * o + 1]! > data[2 * o]! ? 1 : 0)) bad = o;
    expect(bad, `first wrong row (got ${got[bad]})`).toBe(-1);
  });

  it('i32 sum over 1,000,000 elements is exact', async () => {
    const data = Int32Array.from({ length: 1_000_000 }, () => rng.int(2001) - 1000);
    await check('sum', E.tensor(data), data, undefined, false, 0, 0);
  });
});

describe('zero-size inputs', () => {
  it('sum of an empty tensor is 0, and over an empty axis gives zeros', async () => {
    const empty = E.tensor(new Float32Array(0), [0, 3]);
    expect(await E.sum(empty).item()).toBe(0);
    const cols = E.sum(empty, 0);
    expect(cols.shape).toEqual([3]);
    expect(Array.from(await cols.data())).toEqual([0, 0, 0]);
    const rows = E.sum(empty, 1, { keepDims: true });
    expect(rows.shape).toEqual([0, 1]);
    expect((await rows.data()).length).toBe(0);
  });

  it('max, min, argmax and argmin of empty inputs throw, naming the op and shape', () => {
    const empty = E.tensor(new Float32Array(0), [2, 0]);
    expect(() => E.max(empty)).toThrow(/max: .*\[2, 0\]/);
    expect(() => E.min(empty, 1)).toThrow(/min: .*\[2, 0\]/);
    expect(() => E.argmax(empty, 1)).toThrow(/argmax/);
    expect(() => E.argmin(empty, 1)).toThrow(/argmin/);
  });
});
