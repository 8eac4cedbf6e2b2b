/**
 * Layout, indexing and creation ops against CPU references on seeded random inputs. Each reference says, for
 * an output coordinate, which input coordinate it reads, so it shares nothing with the engine's stride maths.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { size } from '../helpers/arrays.js';

useEngine();

/** A host array with coordinate access. */
class Host {
  constructor(
    readonly data: ArrayLike<number>,
    readonly shape: number[],
  ) {}
  at(coord: readonly number[]): number {
    let flat = 0;
    this.shape.forEach((d, k) => (flat = flat * d + coord[k]!));
    return this.data[flat]!;
  }
}

/** Row-major values of `shape`, each computed from its coordinate. */
function build(shape: number[], valueAt: (coord: number[]) => number): number[] {
  return Array.from({ length: size(shape) }, (_, i) => {
    const coord = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      coord[d] = i % shape[d]!;
      i = Math.floor(i / shape[d]!);
    }
    return valueAt(coord);
  });
}

async function expectTensor(got: E.Tensor, shape: number[], values: number[], what: string) {
  expect(got.shape, `${what}: shape`).toEqual(shape);
  expect(Array.from(await got.data()), what).toEqual(values);
}

const rng = new Rng(4242);
/** f32 values exactly representable, so layout results compare with toEqual. */
const host = (shape: number[]) => new Host(Float32Array.from(randomData(size(shape), rng, -100, 100)), shape);
const upload = (h: Host, dtype: E.DType = 'f32') => E.tensor(Array.from(h.data), h.shape, dtype);

describe('reshape, expandDims, squeeze', () => {
  it('reshape keeps row-major order and infers one -1', async () => {
    const x = host([2, 3, 4]);
    const t = upload(x);
    // prettier-ignore
    for (const [target, shape] of [
      [[-1, 4], [6, 4]],
      [[4, -1], [4, 6]],
      [[2, -1, 2], [2, 6, 2]],
      [[-1], [24]],
      [[24, 1], [24, 1]],
    ] as const) {
      await expectTensor(E.reshape(t, target), [...shape], Array.from(x.data), `reshape to ${JSON.stringify(target)}`);
    }
    const empty = E.reshape(E.tensor(new Float32Array(0), [0, 3]), [-1, 3]);
    expect(empty.shape).toEqual([0, 3]);
  });

  it('expandDims inserts a size-1 axis anywhere (negative counts from the end); squeeze removes them', async () => {
    const x = host([2, 3]);
    const t = upload(x);
    expect(E.expandDims(t, 0).shape).toEqual([1, 2, 3]);
    expect(E.expandDims(t, 1).shape).toEqual([2, 1, 3]);
    expect(E.expandDims(t, 2).shape).toEqual([2, 3, 1]);
    expect(E.expandDims(t, -1).shape).toEqual([2, 3, 1]);
    const padded = E.reshape(t, [1, 2, 1, 3, 1]);
    await expectTensor(E.squeeze(padded), [2, 3], Array.from(x.data), 'squeeze all');
    expect(E.squeeze(padded, [0, -1]).shape).toEqual([2, 1, 3]);
    expect(() => E.squeeze(padded, [1])).toThrow(/squeeze: axis 1 of \[1, 2, 1, 3, 1\] has size 2/);
  });
});

describe('transpose', () => {
  const perms = (n: number): number[][] =>
    n === 0 ? [[]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, k) => [...p.slice(0, k), n - 1, ...p.slice(k)]));

  for (const shape of [[7], [3, 5], [2, 3, 4], [2, 1, 3, 2], [2, 3, 1, 2, 3]]) {
    it(`rank ${shape.length} ${JSON.stringify(shape)}: every permutation (a sample of them for rank 5) and the default reverse`, async () => {
      const x = host(shape);
      const t = upload(x);
      const all = perms(shape.length);
      const chosen = all.length > 24 ? Array.from({ length: 12 }, () => all[rng.int(all.length)]!) : all;
      for (const perm of chosen) {
        const outShape = perm.map((a) => shape[a]!);
        const want = build(outShape, (c) => {
          const src = new Array<number>(shape.length);
          perm.forEach((a, k) => (src[a] = c[k]!));
          return x.at(src);
        });
        await expectTensor(E.transpose(t, perm), outShape, want, `transpose ${JSON.stringify(perm)}`);
      }
      const reversed = [...shape].reverse();
      await expectTensor(
        E.transpose(t),
        reversed,
        build(reversed, (c) => x.at([...c].reverse())),
        'default transpose',
      );
    });
  }

  it('negative axes in the permutation, i32 data', async () => {
    const x = new Host(
      Int32Array.from({ length: 6 }, (_, i) => i * 1000003),
      [2, 3],
    );
    await expectTensor(
      E.transpose(upload(x, 'i32'), [-1, -2]),
      [3, 2],
      build([3, 2], ([i, j]) => x.at([j!, i!])),
      'i32 transpose',
    );
  });
});

describe('slice and pad', () => {
  it('slice with explicit sizes, -1 sizes, zero-size and full slices', async () => {
    const shape = [4, 5, 3];
    const x = host(shape);
    const t = upload(x);
    // prettier-ignore
    const cases: [number[], number[] | undefined][] = [
      [[1, 2, 0], [2, 3, 3]],
      [[0, 0, 0], undefined],
      [[3, 4, 2], [1, 1, 1]],
      [[1, 0, 1], [-1, 2, -1]],
      [[2, 5, 0], [2, 0, 3]],
    ];
    for (const [begin, sz] of cases) {
      const outShape = shape.map((d, i) => (sz?.[i] === undefined || sz[i] === -1 ? d - begin[i]! : sz[i]));
      await expectTensor(
        E.slice(t, begin, sz),
        outShape,
        build(outShape, (c) => x.at(c.map((v, i) => v + begin[i]!))),
        `slice ${JSON.stringify([begin, sz])}`,
      );
    }
  });

  it('pad with zeros on any side, including zero pads and a zero-size input', async () => {
    const shape = [2, 3, 2];
    const x = host(shape);
    const t = upload(x);
    // prettier-ignore
    for (const pads of [
      [[1, 0], [0, 2], [1, 1]],
      [[0, 0], [0, 0], [0, 0]],
      [[2, 3], [1, 0], [0, 1]],
    ] as [number, number][][]) {
      const outShape = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
      const want = build(outShape, (c) => {
        const src = c.map((v, i) => v - pads[i]![0]);
        return src.every((v, i) => v >= 0 && v < shape[i]!) ? x.at(src) : 0;
      });
      await expectTensor(E.pad(t, pads), outShape, want, `pad ${JSON.stringify(pads)}`);
    }
    await expectTensor(
      E.pad(E.tensor(new Float32Array(0), [0, 2]), [
        [1, 1],
        [0, 1],
      ]),
      [2, 3],
      [0, 0, 0, 0, 0, 0],
      'pad of [0, 2]',
    );
  });
});

describe('broadcastTo', () => {
  it('materialises broadcasts over leading, size-1 and shape-[] dimensions', async () => {
    // prettier-ignore
    for (const [from, to] of [
      [[3, 1], [2, 3, 4]],
      [[], [2, 2]],
      [[1], [5]],
      [[2, 1, 3], [2, 4, 3]],
      [[4], [4]],
      [[0, 1], [0, 3]],
    ] as [number[], number[]][]) {
      const x = host(from);
      const want = build(to, (c) => x.at(c.slice(to.length - from.length).map((v, i) => (from[i] === 1 ? 0 : v))));
      await expectTensor(E.broadcastTo(upload(x), to), to, want, `broadcastTo ${JSON.stringify(from)} -> ${JSON.stringify(to)}`);
    }
  });
});

describe('concat', () => {
  it('along every axis (negative too) with pieces of different lengths, zero-size pieces included', async () => {
    const base = [2, 3, 4];
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + base.length : axis;
      const lengths = [2, 0, 1, 3];
      const pieces = lengths.map((len) => host(base.map((d, i) => (i === a ? len : d))));
      const outShape = base.map((d, i) => (i === a ? lengths.reduce((s, l) => s + l, 0) : d));
      const want = build(outShape, (c) => {
        let k = c[a]!;
        let p = 0;
        while (k >= lengths[p]!) k -= lengths[p++]!;
        return pieces[p]!.at(c.map((v, i) => (i === a ? k : v)));
      });
      await expectTensor(
        E.concat(
          pieces.map((h) => upload(h)),
          axis,
        ),
        outShape,
        want,
        `concat axis ${axis}`,
      );
    }
  });

  it('a single piece, i32 pieces, and all-empty pieces', async () => {
    const x = host([2, 2]);
    await expectTensor(E.concat([upload(x)], 1), [2, 2], Array.from(x.data), 'concat of one');
    const i = E.concat([E.tensor([1, 2], [2], 'i32'), E.tensor([-3], [1], 'i32')]);
    expect(i.dtype).toBe('i32');
    expect(Array.from(await i.data())).toEqual([1, 2, -3]);
    const empty = E.concat([E.tensor(new Float32Array(0), [0, 2]), E.tensor(new Float32Array(0), [0, 2])]);
    expect(empty.shape).toEqual([0, 2]);
  });
});

describe('gather, takeAlongAxis, oneHot', () => {
  it('gather along any axis with multi-dimensional, repeated i32/u32 indices; out-of-range reads 0', async () => {
    const shape = [3, 4, 2];
    const x = host(shape);
    const t = upload(x);
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + shape.length : axis;
      const len = shape[a]!;
      // Repeats and, for the last entry, one past the end (which reads 0).
      const idx = new Host(Int32Array.from([...Array.from({ length: 5 }, () => rng.int(len)), len]), [2, 3]);
      const outShape = [...shape.slice(0, a), ...idx.shape, ...shape.slice(a + 1)];
      const want = build(outShape, (c) => {
        const i = idx.at(c.slice(a, a + idx.shape.length));
        return i >= len ? 0 : x.at([...c.slice(0, a), i, ...c.slice(a + idx.shape.length)]);
      });
      for (const dtype of ['i32', 'u32'] as const) {
        await expectTensor(E.gather(t, upload(idx, dtype), axis), outShape, want, `gather axis ${axis} (${dtype} indices)`);
      }
    }
  });

  it('gather on i32 data with a shape-[] index drops the axis', async () => {
    const x = E.tensor([10, 20, 30, 40, 50, 60], [3, 2], 'i32');
    const g = E.gather(x, E.tensor(2, [], 'i32'));
    expect(g.dtype).toBe('i32');
    await expectTensor(g, [2], [50, 60], 'gather scalar index');
  });

  it('takeAlongAxis along every axis, with more or fewer picks than the axis length', async () => {
    const shape = [3, 4, 2];
    const x = host(shape);
    const t = upload(x);
    for (const axis of [0, 1, 2, -2]) {
      const a = axis < 0 ? axis + shape.length : axis;
      for (const m of [1, shape[a]! + 2]) {
        const idxShape = shape.map((d, i) => (i === a ? m : d));
        const idx = new Host(
          Int32Array.from({ length: size(idxShape) }, () => rng.int(shape[a]!)),
          idxShape,
        );
        const want = build(idxShape, (c) => x.at(c.map((v, i) => (i === a ? idx.at(c) : v))));
        await expectTensor(E.takeAlongAxis(t, upload(idx, 'i32'), axis), idxShape, want, `takeAlongAxis axis ${axis} m ${m}`);
      }
    }
  });

  it('oneHot with custom on/off values; out-of-range indices give all-off rows', async () => {
    const idx = new Host(Int32Array.from([0, 3, 1, -1, 4, 2]), [2, 3]);
    const depth = 4;
    const want = build([2, 3, depth], (c) => (idx.at(c.slice(0, 2)) === c[2] ? 0.9 : 0.025));
    const got = E.oneHot(upload(idx, 'i32'), depth, 0.9, 0.025);
    expect(got.shape).toEqual([2, 3, depth]);
    expect(Array.from(await got.data())).toEqual(want.map(Math.fround));
    await expectTensor(E.oneHot(E.tensor([2, 0], [2], 'u32'), 3), [2, 3], [0, 0, 1, 1, 0, 0], 'oneHot u32 defaults');
  });
});

describe('creation ops', () => {
  it('tensor() infers shapes from nested arrays and dtypes from typed arrays', async () => {
    await expectTensor(
      E.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      [2, 3],
      [1, 2, 3, 4, 5, 6],
      'nested',
    );
    await expectTensor(E.tensor([[[1]], [[2]]]), [2, 1, 1], [1, 2], 'nested rank 3');
    await expectTensor(E.tensor(7), [], [7], 'number');
    await expectTensor(E.tensor([]), [0], [], 'empty');
    await expectTensor(E.tensor([1, 2, 3, 4, 5, 6], [3, 2]), [3, 2], [1, 2, 3, 4, 5, 6], 'flat with shape');
    const i = E.tensor(Int32Array.from([-5, 2 ** 31 - 1]));
    expect(i.dtype).toBe('i32');
    await expectTensor(i, [2], [-5, 2 ** 31 - 1], 'Int32Array');
    const u = E.tensor(Uint32Array.from([2 ** 32 - 1, 3]), [2, 1]);
    expect(u.dtype).toBe('u32');
    await expectTensor(u, [2, 1], [2 ** 32 - 1, 3], 'Uint32Array');
    // A subarray view starts mid-buffer: only its own elements are uploaded.
    const view = Float32Array.from([9, 1, 2, 3, 9]).subarray(1, 4);
    await expectTensor(E.tensor(view), [3], [1, 2, 3], 'subarray');
    await expectTensor(E.tensor([1.9, -1.9, 3], [3], 'i32'), [3], [1, -1, 3], 'numbers to i32 truncate');
  });

  it('tensor() rejects ragged nested arrays and typed arrays of another dtype', () => {
    expect(() => E.tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array/);
    expect(() => E.tensor(new Float64Array(3) as unknown as Float32Array)).toThrow(/tensor: unsupported typed array Float64Array/);
    expect(() => E.tensor(new Float32Array(2), [2], 'i32')).toThrow(/tensor: a Float32Array cannot make a i32 tensor/);
  });

  it('zeros, ones, full, arange in f32 and i32', async () => {
    await expectTensor(E.zeros([2, 3]), [2, 3], [0, 0, 0, 0, 0, 0], 'zeros');
    await expectTensor(E.ones([3], 'i32'), [3], [1, 1, 1], 'ones i32');
    await expectTensor(E.full([2, 2], -2.5), [2, 2], [-2.5, -2.5, -2.5, -2.5], 'full');
    await expectTensor(E.full([2], -7, 'i32'), [2], [-7, -7], 'full i32');
    await expectTensor(E.full([], 3), [], [3], 'full scalar');
    await expectTensor(E.zeros([0, 4]), [0, 4], [], 'zeros empty');
    await expectTensor(E.zerosLike(E.tensor([[1, 2]], [1, 2], 'i32')), [1, 2], [0, 0], 'zerosLike');
    await expectTensor(E.onesLike(E.tensor([5, 6, 7])), [3], [1, 1, 1], 'onesLike');
    await expectTensor(E.arange(5), [5], [0, 1, 2, 3, 4], 'arange(5)');
    await expectTensor(E.arange(2, 10, 3), [3], [2, 5, 8], 'arange(2, 10, 3)');
    await expectTensor(E.arange(5, 0, -2), [3], [5, 3, 1], 'arange(5, 0, -2)');
    await expectTensor(E.arange(0, 1, 0.25), [4], [0, 0.25, 0.5, 0.75], 'fractional step');
    await expectTensor(E.arange(3, 3), [0], [], 'empty arange');
    await expectTensor(E.arange(-3, 2, 1, 'i32'), [5], [-3, -2, -1, 0, 1], 'arange i32');
    expect(() => E.arange(0, 5, 0)).toThrow(/arange: step must not be 0/);
  });

  it('integer fills and ranges stay exact beyond 2^24 (where f32 has gaps)', async () => {
    await expectTensor(E.full([2], 16_777_217, 'i32'), [2], [16_777_217, 16_777_217], 'full i32 2^24 + 1');
    await expectTensor(E.full([1], -2_147_483_647, 'i32'), [1], [-2_147_483_647], 'full i32 near the minimum');
    await expectTensor(E.full([1], 4_294_967_295, 'u32'), [1], [4_294_967_295], 'full u32 maximum');
    await expectTensor(
      E.arange(16_777_216, 16_777_221, 1, 'i32'),
      [5],
      [16_777_216, 16_777_217, 16_777_218, 16_777_219, 16_777_220],
      'arange i32 past 2^24',
    );
    await expectTensor(E.arange(4, 0, -1, 'u32'), [4], [4, 3, 2, 1], 'arange u32 counting down');
  });

  it('rand and randn are deterministic per seed and differ across seeds', async () => {
    const a = await E.rand([100], { seed: 1 }).data();
    expect(Array.from(await E.rand([100], { seed: 1 }).data())).toEqual(Array.from(a));
    expect(Array.from(await E.rand([100], { seed: 2 }).data())).not.toEqual(Array.from(a));
    const n = await E.randn([100], { seed: 1 }).data();
    expect(Array.from(await E.randn([100], { seed: 1 }).data())).toEqual(Array.from(n));
    expect(Array.from(await E.randn([100], { seed: 2 }).data())).not.toEqual(Array.from(n));
    // A shared generator advances: two draws from it differ.
    const shared = new Rng(5);
    expect(Array.from(await E.rand([10], { rng: shared }).data())).not.toEqual(Array.from(await E.rand([10], { rng: shared }).data()));
  });

  it('rand and randn have the requested range, mean and spread (bounds of 6 standard errors)', async () => {
    const n = 200_000;
    const stats = (v: ArrayLike<number>) => {
      let s = 0;
      let s2 = 0;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < v.length; i++) {
        s += v[i]!;
        s2 += v[i]! * v[i]!;
        lo = Math.min(lo, v[i]!);
        hi = Math.max(hi, v[i]!);
      }
      const mean = s / v.length;
      return { mean, std: Math.sqrt(s2 / v.length - mean * mean), lo, hi };
    };
    // Uniform on [-2, 4): mean 1, std 6/sqrt(12); the sample std's standard error uses the uniform's kurtosis 1.8.
    const u = stats(await E.rand([n], { seed: 11, low: -2, high: 4 }).data());
    const uStd = 6 / Math.sqrt(12);
    expect(u.lo).toBeGreaterThanOrEqual(-2);
    expect(u.hi).toBeLessThan(4);
    expect(Math.abs(u.mean - 1)).toBeLessThan((6 * uStd) / Math.sqrt(n));
    expect(Math.abs(u.std - uStd)).toBeLessThan(6 * uStd * Math.sqrt(0.8 / (4 * n)));
    // Normal(3, 2): the sample std's standard error is std / sqrt(2n).
    const g = stats(await E.randn([n], { seed: 12, mean: 3, std: 2 }).data());
    expect(Math.abs(g.mean - 3)).toBeLessThan((6 * 2) / Math.sqrt(n));
    expect(Math.abs(g.std - 2)).toBeLessThan((6 * 2) / Math.sqrt(2 * n));
  });
});
