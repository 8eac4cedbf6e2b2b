/**
 * Elementwise ops against a float64 CPU reference on seeded random inputs: every unary op, powScalar's cases,
 * binary ops and comparisons under NumPy broadcasting (including number operands and shape-[] tensors),
 * where, cast, i32 arithmetic, zero-size and odd sizes, and inputs large enough to overflow naive formulas.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { size } from '../helpers/arrays.js';

useEngine();

interface HostTensor {
  data: ArrayLike<number>;
  shape: number[];
}
type HostOperand = HostTensor | number;

/** NumPy broadcasting of any number of shapes (the reference's own, independent of engine/shape.ts). */
function broadcastAll(shapes: number[][]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    const dims = shapes.map((s) => s[s.length - rank + i] ?? 1).filter((d) => d !== 1);
    if (new Set(dims).size > 1) throw new Error(`reference: shapes ${JSON.stringify(shapes)} do not broadcast`);
    return dims[0] ?? 1;
  });
}

/** Elementwise f over broadcast operands, in float64: reads operand k at the output coordinate, clamped to its own dims. */
function mapRef(f: (...v: number[]) => number, operands: HostOperand[]): { data: Float64Array; shape: number[] } {
  const tensors = operands.filter((o): o is HostTensor => typeof o !== 'number');
  const shape = broadcastAll(tensors.map((t) => t.shape));
  const out = new Float64Array(size(shape));
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    for (let d = shape.length - 1; d >= 0; d--) {
      coord[d] = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
    }
    const values = operands.map((o) => {
      if (typeof o === 'number') return o;
      let flat = 0;
      const lead = shape.length - o.shape.length;
      o.shape.forEach((dim, k) => (flat = flat * dim + (dim === 1 ? 0 : coord[lead + k]!)));
      return o.data[flat]!;
    });
    out[i] = f(...values);
  }
  return { data: out, shape };
}

function upload(o: HostOperand, dtype: E.DType = 'f32'): E.Tensor | number {
  return typeof o === 'number' ? o : E.tensor(Array.from(o.data), o.shape, dtype);
}

async function expectOp(got: E.Tensor, want: { data: ArrayLike<number>; shape: number[] }, rtol: number, atol: number, what: string) {
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  expectClose(await got.data(), want.data, rtol, atol, what);
}

const rng = new Rng(20240611);
const host = (shape: number[], low = -1, high = 1): HostTensor => ({ data: randomData(size(shape), rng, low, high), shape });
/** Small integers stored as f32, so comparisons meet ties. */
const ints = (shape: number[], n: number): HostTensor => ({
  data: Float32Array.from({ length: size(shape) }, () => rng.int(n) - (n >> 1)),
  shape,
});

describe('unary f32 ops match float64 references', () => {
  // Tolerances follow WGSL's accuracy for each builtin (exp: 3 + 2|x| ULP; log: 2^-21 absolute near 1; tanh via sinh/cosh).
  const cases: {
    name: string;
    op: (x: E.Tensor) => E.Tensor;
    ref: (x: number) => number;
    low: number;
    high: number;
    rtol: number;
    atol: number;
  }[] = [
    { name: 'neg', op: E.neg, ref: (x) => -x, low: -5, high: 5, rtol: 0, atol: 0 },
    { name: 'abs', op: E.abs, ref: Math.abs, low: -5, high: 5, rtol: 0, atol: 0 },
    { name: 'relu', op: E.relu, ref: (x) => Math.max(x, 0), low: -5, high: 5, rtol: 0, atol: 0 },
    { name: 'exp', op: E.exp, ref: Math.exp, low: -20, high: 20, rtol: 2e-5, atol: 0 },
    { name: 'log', op: E.log, ref: Math.log, low: 1e-3, high: 100, rtol: 2e-6, atol: 1e-6 },
    { name: 'sqrt', op: E.sqrt, ref: Math.sqrt, low: 0, high: 100, rtol: 1e-6, atol: 0 },
    { name: 'sigmoid', op: E.sigmoid, ref: (x) => 1 / (1 + Math.exp(-x)), low: -20, high: 20, rtol: 1e-5, atol: 1e-7 },
    { name: 'tanh', op: E.tanh, ref: Math.tanh, low: -10, high: 10, rtol: 1e-5, atol: 1e-6 },
  ];
  for (const c of cases) {
    it(`${c.name} on 257 elements (not a multiple of 4 or of the workgroup size) and on [2, 1, 3]`, async () => {
      for (const shape of [[257], [2, 1, 3]]) {
        const x = host(shape, c.low, c.high);
        await expectOp(c.op(E.tensor(x.data, shape)), mapRef(c.ref, [x]), c.rtol, c.atol, `${c.name}${JSON.stringify(shape)}`);
      }
    });
  }

  it('shape [] and size-1 tensors keep their shape', async () => {
    const s = E.exp(E.tensor(1));
    expect(s.shape).toEqual([]);
    expectClose(await s.data(), [Math.E], 1e-6);
    const one = E.sqrt(E.tensor([[[4]]]));
    expect(one.shape).toEqual([1, 1, 1]);
    expect(Array.from(await one.data())).toEqual([2]);
  });

  it('zero-size tensors give zero-size results without GPU work', async () => {
    const z = E.exp(E.tensor(new Float32Array(0), [2, 0, 3]));
    expect(z.shape).toEqual([2, 0, 3]);
    expect((await z.data()).length).toBe(0);
  });

  it('large inputs stay finite or saturate cleanly (no NaN)', async () => {
    const big = [88, -88, 1e4, -1e4, 50, -50, 0];
    const exp = await E.exp(E.tensor([88, -88])).data();
    // exp(-88) is an f32 subnormal, which GPUs may flush to zero.
    expectClose(exp, [Math.exp(88), Math.exp(-88)], 1e-4, 1e-37, 'exp(+-88)');
    expect(Number.isFinite(exp[0])).toBe(true);
    expectClose(
      await E.sigmoid(E.tensor(big)).data(),
      big.map((x) => 1 / (1 + Math.exp(-x))),
      1e-5,
      1e-30,
      'sigmoid',
    );
    expectClose(await E.tanh(E.tensor(big)).data(), big.map(Math.tanh), 1e-6, 0, 'tanh');
  });
});

describe('powScalar', () => {
  const pow = async (base: HostTensor, p: number, want: (x: number) => number, rtol = 2e-5) => {
    await expectOp(E.powScalar(E.tensor(base.data, base.shape), p), mapRef(want, [base]), rtol, 1e-6, `x ** ${p}`);
  };

  it('integer exponents, negative bases keep their sign', async () => {
    const x = host([101], -3, 3);
    for (const p of [1, 2, 3, 4]) await pow(x, p, (v) => v ** p);
  });

  it('negative integer exponents on non-zero bases', async () => {
    const x: HostTensor = { data: Float32Array.from(randomData(64, rng, 0.5, 3), (v, i) => (i % 2 ? -v : v)), shape: [64] };
    for (const p of [-1, -2, -3]) await pow(x, p, (v) => v ** p);
  });

  it('fractional exponents: positive bases match, negative bases give NaN, zero gives 0', async () => {
    const x: HostTensor = { data: Float32Array.from([...randomData(30, rng, 0, 5), -1, -2.5, 0]), shape: [33] };
    for (const p of [0.5, 1.5, 1 / 3]) {
      // p travels as f32, so the reference uses the same rounded exponent.
      const pf = Math.fround(p);
      await pow(x, p, (v) => (v < 0 ? NaN : v ** pf));
    }
  });

  it('a zero base gives 0 for p > 0 and +Infinity for p < 0, integer or not', async () => {
    for (const p of [3, 0.5, -1, -2, -0.5]) {
      expect(Array.from(await E.powScalar(E.tensor([0]), p).data()), `0 ** ${p}`).toEqual([0 ** p]);
    }
  });

  it('p = 0 gives 1 everywhere, including 0 and negative bases', async () => {
    expect(Array.from(await E.powScalar(E.tensor([0, -2, 3.5, -0.25]), 0).data())).toEqual([1, 1, 1, 1]);
  });
});

describe('binary ops broadcast like NumPy', () => {
  const ops: { name: string; op: (a: E.Operand, b: E.Operand) => E.Tensor; ref: (a: number, b: number) => number }[] = [
    { name: 'add', op: E.add, ref: (a, b) => a + b },
    { name: 'sub', op: E.sub, ref: (a, b) => a - b },
    { name: 'mul', op: E.mul, ref: (a, b) => a * b },
    { name: 'div', op: E.div, ref: (a, b) => a / b },
    { name: 'maximum', op: E.maximum, ref: Math.max },
    { name: 'minimum', op: E.minimum, ref: Math.min },
  ];
  // prettier-ignore
  const pairs: [number[], number[]][] = [
    [[3, 1], [1, 4]],
    [[2, 3, 4], [4]],
    [[4], [2, 3, 4]],
    [[], [2, 3]],
    [[2, 3], []],
    [[], []],
    [[1], [7]],
    [[2, 1, 3], [2, 4, 1]],
    [[257], [257]],
    [[5, 1, 1, 2, 1], [3, 1, 2, 3]],
  ];
  /** Divisors are kept away from zero so the f32 and f64 quotients stay comparable. */
  const divisor = (shape: number[]): HostTensor => ({
    data: randomData(size(shape), rng, 0.5, 2).map((v, i) => (i % 3 === 0 ? -v : v)),
    shape,
  });

  for (const { name, op, ref } of ops) {
    it(`${name} over broadcast shape pairs`, async () => {
      for (const [sa, sb] of pairs) {
        const a = host(sa, -3, 3);
        const b = name === 'div' ? divisor(sb) : host(sb, -3, 3);
        await expectOp(op(upload(a), upload(b)), mapRef(ref, [a, b]), 1e-6, 1e-6, `${name} ${JSON.stringify(sa)} x ${JSON.stringify(sb)}`);
      }
    });

    it(`${name} with a number on either side`, async () => {
      const a = host([3, 5], -3, 3);
      const c = name === 'div' ? -1.75 : 0.625;
      await expectOp(op(upload(a), c), mapRef(ref, [a, c]), 1e-6, 1e-6, `${name}(t, ${c})`);
      const b = name === 'div' ? divisor([3, 5]) : a;
      await expectOp(op(c, upload(b)), mapRef(ref, [c, b]), 1e-6, 1e-6, `${name}(${c}, t)`);
    });
  }

  it('size-1 and zero-size dimensions', async () => {
    const z = E.add(E.tensor(new Float32Array(0), [0, 3]), E.tensor([1, 2, 3]));
    expect(z.shape).toEqual([0, 3]);
    expect((await z.data()).length).toBe(0);
    const zb = E.mul(E.tensor(new Float32Array(0), [2, 0, 1]), E.tensor(new Float32Array(4), [1, 4]));
    expect(zb.shape).toEqual([2, 0, 4]);
    const a = host([1, 1]);
    const b = host([1]);
    await expectOp(
      E.sub(upload(a), upload(b)),
      mapRef((x, y) => x - y, [a, b]),
      1e-6,
      1e-6,
      '[1,1] - [1]',
    );
  });

  it('a million-odd elements (1,000,003): every element is written', async () => {
    const a = host([1_000_003]);
    const b = host([1]);
    await expectOp(
      E.add(upload(a), upload(b)),
      mapRef((x, y) => x + y, [a, b]),
      1e-6,
      1e-6,
      'add 1000003',
    );
  });

  it('more than 65535 workgroups along x: the kernel spreads over a 2-D grid and still covers every element', async () => {
    // 256 * 65535 elements fill the x dimension; 1027 more need a second row of workgroups.
    const n = 256 * 65535 + 1027;
    const values = Int32Array.from({ length: n }, (_, i) => i);
    const got = await E.add(E.tensor(values), 7).data();
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (got[i] !== i + 7) bad = i;
    expect(bad, `first wrong element (value ${got[bad]})`).toBe(-1);
  });
});

describe('comparisons return f32 0/1 masks', () => {
  const ops: { name: string; op: (a: E.Operand, b: E.Operand) => E.Tensor; ref: (a: number, b: number) => boolean }[] = [
    { name: 'equal', op: E.equal, ref: (a, b) => a === b },
    { name: 'notEqual', op: E.notEqual, ref: (a, b) => a !== b },
    { name: 'less', op: E.less, ref: (a, b) => a < b },
    { name: 'lessEqual', op: E.lessEqual, ref: (a, b) => a <= b },
    { name: 'greater', op: E.greater, ref: (a, b) => a > b },
    { name: 'greaterEqual', op: E.greaterEqual, ref: (a, b) => a >= b },
  ];
  for (const { name, op, ref } of ops) {
    it(`${name} on f32 and i32, broadcast and with numbers (ties included)`, async () => {
      const f = (a: number, b: number) => (ref(a, b) ? 1 : 0);
      for (const dtype of ['f32', 'i32'] as const) {
        const a = ints([4, 1, 3], 5);
        const b = ints([5, 1], 5);
        const out = op(upload(a, dtype), upload(b, dtype));
        expect(out.dtype).toBe('f32');
        await expectOp(out, mapRef(f, [a, b]), 0, 0, `${name} ${dtype}`);
        await expectOp(op(upload(a, dtype), 1), mapRef(f, [a, 1]), 0, 0, `${name}(${dtype} t, 1)`);
        await expectOp(op(-1, upload(b, dtype)), mapRef(f, [-1, b]), 0, 0, `${name}(-1, ${dtype} t)`);
      }
    });
  }
});

describe('where', () => {
  it('selects a where cond != 0, broadcasting cond, tensors and numbers together', async () => {
    const cond = ints([2, 1, 3], 2);
    const a = host([4, 1]);
    const b = host([3]);
    const pick = (c: number, x: number, y: number) => (c !== 0 ? x : y);
    await expectOp(E.where(upload(cond) as E.Tensor, upload(a), upload(b)), mapRef(pick, [cond, a, b]), 0, 0, 'where(t, t, t)');
    await expectOp(E.where(upload(cond) as E.Tensor, upload(a), -9), mapRef(pick, [cond, a, -9]), 0, 0, 'where(t, t, n)');
    await expectOp(E.where(upload(cond) as E.Tensor, 2.5, upload(b)), mapRef(pick, [cond, 2.5, b]), 0, 0, 'where(t, n, t)');
  });

  it('an f32 mask selects between i32 branches', async () => {
    const cond = E.tensor([1, 0, 0.5, 0]);
    const out = E.where(cond, E.tensor([1, 2, 3, 4], [4], 'i32'), -1);
    expect(out.dtype).toBe('i32');
    // 0.5 is a non-zero condition: it must select the first branch.
    expect(Array.from(await out.data())).toEqual([1, -1, 3, -1]);
  });
});

describe('cast', () => {
  it('f32 -> i32 truncates toward zero; i32 -> f32 and -> u32 are exact; same dtype copies', async () => {
    const x = Float32Array.from([2.7, -2.7, 0.4, -0.4, 1e6 + 0.5, -7]);
    // `| 0` because an integer has no -0 (toEqual tells -0 from +0).
    const truncated = Array.from(x, (v) => Math.trunc(v) | 0);
    const i = E.cast(E.tensor(x), 'i32');
    expect(i.dtype).toBe('i32');
    expect(Array.from(await i.data())).toEqual(truncated);
    const back = E.cast(i, 'f32');
    expect(back.dtype).toBe('f32');
    expect(Array.from(await back.data())).toEqual(truncated);
    const u = E.cast(E.tensor([0, 5, 123456], [3], 'i32'), 'u32');
    expect(u.dtype).toBe('u32');
    expect(Array.from(await u.data())).toEqual([0, 5, 123456]);
    const copy = E.cast(E.tensor(x), 'f32');
    expect(Array.from(await copy.data())).toEqual(Array.from(x));
  });
});

describe('i32 arithmetic is exact integer arithmetic', () => {
  const a: HostTensor = { data: Int32Array.from({ length: 60 }, () => rng.int(2001) - 1000), shape: [3, 20] };
  const b: HostTensor = { data: Int32Array.from({ length: 20 }, () => (rng.int(2) ? 1 : -1) * (1 + rng.int(50))), shape: [20] };
  const cases: { name: string; op: (x: E.Operand, y: E.Operand) => E.Tensor; ref: (x: number, y: number) => number }[] = [
    { name: 'add', op: E.add, ref: (x, y) => x + y },
    { name: 'sub', op: E.sub, ref: (x, y) => x - y },
    { name: 'mul', op: E.mul, ref: (x, y) => Math.imul(x, y) },
    { name: 'div', op: E.div, ref: (x, y) => Math.trunc(x / y) },
    { name: 'maximum', op: E.maximum, ref: Math.max },
    { name: 'minimum', op: E.minimum, ref: Math.min },
  ];
  for (const { name, op, ref } of cases) {
    it(`${name}`, async () => {
      const out = op(upload(a, 'i32'), upload(b, 'i32'));
      expect(out.dtype).toBe('i32');
      await expectOp(out, mapRef(ref, [a, b]), 0, 0, `i32 ${name}`);
      await expectOp(op(upload(a, 'i32'), 7), mapRef(ref, [a, 7]), 0, 0, `i32 ${name}(t, 7)`);
    });
  }

  it('mul wraps around like 32-bit two-complement', async () => {
    const out = E.mul(E.tensor([65536, -65536, 2147483647], [3], 'i32'), E.tensor([65536, 65537, 2], [3], 'i32'));
    expect(Array.from(await out.data())).toEqual([Math.imul(65536, 65536), Math.imul(-65536, 65537), Math.imul(2147483647, 2)]);
  });

  it('neg, abs and relu', async () => {
    const x = E.tensor(a.data, a.shape, 'i32');
    await expectOp(
      E.neg(x),
      mapRef((v) => -v, [a]),
      0,
      0,
      'i32 neg',
    );
    await expectOp(E.abs(x), mapRef(Math.abs, [a]), 0, 0, 'i32 abs');
    await expectOp(
      E.relu(x),
      mapRef((v) => Math.max(v, 0), [a]),
      0,
      0,
      'i32 relu',
    );
  });
});
