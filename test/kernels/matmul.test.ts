/**
 * matmul against a float64 CPU reference on seeded random inputs, for each variant forced on its own ('shared',
 * 'register', 'naive') and then for every configuration (tile size) once: odd sizes that leave partial tiles,
 * both transposes, NumPy batch broadcasting, the fused bias + relu epilogue, zero-size dims, batch 1 and 1-D
 * operands. Finite-difference checks cover the gradients of a, b and bias, through the relu mask and through
 * broadcast batches. Bad input must fail before any GPU work with a message naming matmul and the shapes. The
 * autotuner must pick a configuration it timed, and its cache file must round-trip.
 *
 * Tolerances: f32 sums of at most 65 products of values in [-1, 1] against float64, so |error| stays far
 * below 1e-4 + 1e-4 * |value|.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { configById, configId, deviceConfig, heuristicConfig, runnableConfig } from '../../kernels/matmul/configs.js';
import { Rng } from '../../engine/random.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

interface HostTensor {
  data: Float32Array;
  shape: number[];
}

interface ReferenceOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: Float32Array;
  relu?: boolean;
}

/** NumPy's matmul semantics in float64, written from the definition: loops over the broadcast batch, i, j, p. */
function referenceMatmul(a: HostTensor, b: HostTensor, o: ReferenceOptions = {}): { data: Float64Array; shape: number[] } {
  const aShape = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bShape = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const ta = a.shape.length > 1 && !!o.transposeA;
  const tb = b.shape.length > 1 && !!o.transposeB;
  const [ar, ac] = aShape.slice(-2) as [number, number];
  const [br, bc] = bShape.slice(-2) as [number, number];
  const [m, k] = ta ? [ac, ar] : [ar, ac];
  const n = tb ? br : bc;
  const rank = Math.max(aShape.length, bShape.length) - 2;
  const pad = (s: number[]) => [...new Array<number>(rank - (s.length - 2)).fill(1), ...s.slice(0, -2)];
  const aBatch = pad(aShape);
  const bBatch = pad(bShape);
  const outBatch = aBatch.map((d, i) => (d === 1 ? bBatch[i]! : d));
  const batches = outBatch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(batches * m * n);
  for (let bi = 0; bi < batches; bi++) {
    // Decode the batch index, then find each operand's matrix (index 0 along its broadcast dims).
    let rem = bi;
    let aMat = 0;
    let bMat = 0;
    let aScale = 1;
    let bScale = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % outBatch[d]!;
      rem = Math.floor(rem / outBatch[d]!);
      aMat += (aBatch[d] === 1 ? 0 : c) * aScale;
      bMat += (bBatch[d] === 1 ? 0 : c) * bScale;
      aScale *= aBatch[d]!;
      bScale *= bBatch[d]!;
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          s += a.data[aMat * m * k + (ta ? p * m + i : i * k + p)]! * b.data[bMat * k * n + (tb ? j * k + p : p * n + j)]!;
        }
        if (o.bias) s += o.bias[j]!;
        out[(bi * m + i) * n + j] = o.relu ? Math.max(s, 0) : s;
      }
    }
  }
  const shape = [...outBatch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
  return { data: out, shape };
}

function hostTensor(shape: number[], rng: Rng, low = -1, high = 1): HostTensor {
  return {
    data: randomData(
      shape.reduce((x, y) => x * y, 1),
      rng,
      low,
      high,
    ),
    shape,
  };
}

/** Run E.matmul on host data and compare values and shape with the reference. */
async function expectMatchesReference(a: HostTensor, b: HostTensor, o: ReferenceOptions, what: string): Promise<void> {
  await E.scope(async () => {
    const bias = o.bias ? E.tensor(o.bias, [o.bias.length]) : undefined;
    const out = E.matmul(E.tensor(a.data, a.shape), E.tensor(b.data, b.shape), {
      transposeA: o.transposeA,
      transposeB: o.transposeB,
      bias,
      activation: o.relu ? 'relu' : 'none',
    });
    const ref = referenceMatmul(a, b, o);
    expect([...out.shape], `${what}: shape`).toEqual(ref.shape);
    expectClose(await out.data(), ref.data, 1e-4, 1e-4, what);
  });
}

/** [m, n, k] with partial tiles everywhere, plus a one-element product and an exactly tiled one. */
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 17, 65],
  [64, 64, 64],
];
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

const matrixShape = (rows: number, cols: number, transposed: boolean) => (transposed ? [cols, rows] : [rows, cols]);

beforeAll(() => E.setMatmulAutotune(false));
afterAll(() => {
  E.setMatmulVariant(null);
  E.setMatmulAutotune(true);
});

for (const variant of E.MATMUL_VARIANTS) {
  describe(`matmul, variant '${variant}' forced`, () => {
    beforeAll(() => E.setMatmulVariant(variant));
    afterAll(() => E.setMatmulVariant(null));
    const rng = new Rng(variant.length * 101);

    it('matches the float64 reference for odd sizes and every transpose', async () => {
      expect(E.matmulConfigFor({ a: [8, 4], b: [4, 12] }).config.startsWith(variant)).toBe(true);
      for (const [m, n, k] of SIZES) {
        for (const [ta, tb] of TRANSPOSES) {
          const a = hostTensor(matrixShape(m, k, ta), rng);
          const b = hostTensor(matrixShape(k, n, tb), rng);
          await expectMatchesReference(a, b, { transposeA: ta, transposeB: tb }, `${m}x${n}x${k} transposeA=${ta} transposeB=${tb}`);
        }
      }
    });

    it('broadcasts batch dims as NumPy does, batch 1 included', async () => {
      const cases: [number[], number[], ReferenceOptions][] = [
        [[2, 1, 5, 7], [3, 7, 4], {}], // both broadcast: out batch [2, 3]
        [[3, 7, 5], [7, 4], { transposeA: true }], // b shared by every batch
        [[6, 9], [2, 3, 4, 9], { transposeB: true }], // a shared, two batch dims
        [[1, 5, 7], [1, 7, 4], {}], // batch 1
        [[4, 3, 6], [4, 5, 6], { transposeB: true }], // equal batches
      ];
      for (const [as, bs, o] of cases) {
        await expectMatchesReference(hostTensor(as, rng), hostTensor(bs, rng), o, `${JSON.stringify(as)} @ ${JSON.stringify(bs)}`);
      }
    });

    it('fuses bias and relu after the product', async () => {
      for (const [ta, tb] of TRANSPOSES) {
        const a = hostTensor(matrixShape(9, 11, ta), rng);
        const b = hostTensor(matrixShape(11, 6, tb), rng);
        const bias = randomData(6, rng);
        await expectMatchesReference(a, b, { transposeA: ta, transposeB: tb, bias, relu: true }, `bias+relu ${ta}/${tb}`);
      }
      await expectMatchesReference(hostTensor([2, 5, 3], rng), hostTensor([3, 4], rng), { bias: randomData(4, rng) }, 'bias only, batched');
      await expectMatchesReference(hostTensor([5, 3], rng), hostTensor([3, 4], rng), { relu: true }, 'relu only');
    });

    it('handles zero-size dims and 1-D operands', async () => {
      const cases: [number[], number[], ReferenceOptions][] = [
        [[0, 5], [5, 3], {}],
        [[4, 5], [5, 0], {}],
        [[0, 2, 3], [3, 4], {}],
        // K = 0: every dot product is empty, so the result is the epilogue of 0.
        [[4, 0], [0, 3], {}],
        [[4, 0], [0, 3], { bias: Float32Array.from([-1, 0.5, 2]), relu: true }],
        [[5], [5, 3], {}],
        [[4, 5], [5], {}],
        [[5], [5], {}],
        [[2, 4, 5], [5], {}],
        [[5], [3, 5, 2], {}],
        [[5], [3, 5], { transposeA: true, transposeB: true }],
      ];
      for (const [as, bs, o] of cases) {
        await expectMatchesReference(
          hostTensor(as, rng),
          hostTensor(bs, rng),
          o,
          `${JSON.stringify(as)} @ ${JSON.stringify(bs)} ${JSON.stringify(o)}`,
        );
      }
    });

    it('has gradients for a and b matching finite differences, for every transpose', async () => {
      for (const [ta, tb] of TRANSPOSES) {
        const a = hostTensor(matrixShape(3, 4, ta), rng);
        const b = hostTensor(matrixShape(4, 5, tb), rng);
        await gradCheck((x, y) => E.matmul(x, y, { transposeA: ta, transposeB: tb }), [a, b], { seed: 3 });
      }
    });
  });
}

describe('matmul, every configuration', () => {
  afterAll(() => E.setMatmulVariant(null));

  it('matches the reference with partial tiles, two broadcast batch dims, transposes and the epilogue', async () => {
    const rng = new Rng(11);
    // M = 37, N = 29, K = 19: no tile size divides them; out batch [2, 3] from [2, 1] and [3].
    const a = hostTensor([2, 1, 19, 37], rng);
    const b = hostTensor([3, 29, 19], rng);
    const bias = randomData(29, rng);
    for (const id of E.MATMUL_CONFIG_IDS) {
      E.setMatmulVariant(id);
      // Sizes that are not multiples of 4 run a vector configuration's block with scalar loads; batched products run a
      // uniform configuration's block as a vector one.
      const runs = id.replace(/^(vector|uniform)/, 'register');
      expect(E.matmulConfigFor({ a: a.shape, b: b.shape, transposeA: true, transposeB: true })).toEqual({ config: runs, source: 'forced' });
      await expectMatchesReference(a, b, { transposeA: true, transposeB: true, bias, relu: true }, id);
    }
  });

  it('matches the reference with sizes that allow vec4 loads (M = 36, N = 28, K = 20: partial blocks)', async () => {
    const rng = new Rng(12);
    const a = hostTensor([2, 1, 20, 36], rng);
    const b = hostTensor([3, 28, 20], rng);
    const bias = randomData(28, rng);
    for (const id of E.MATMUL_CONFIG_IDS) {
      E.setMatmulVariant(id);
      const runs = id.replace(/^uniform/, 'vector');
      expect(E.matmulConfigFor({ a: a.shape, b: b.shape, transposeA: true, transposeB: true })).toEqual({ config: runs, source: 'forced' });
      await expectMatchesReference(a, b, { transposeA: true, transposeB: true, bias, relu: true }, id);
    }
  });
});

describe('matmul on uniform windows', () => {
  afterAll(() => E.setMatmulVariant(null));

  it('matches the reference over several row, column and depth windows, in every layout, with the epilogue', async () => {
    const rng = new Rng(14);
    // 64 local rows per binding: windows of 256 rows (columns) and 256 depth steps, so 2 x 2 x 3 windows, all partial;
    // packed with scalar loads (odd sizes), then with vec4 loads along the depth or along the rows (multiples of 4).
    for (const [M, N, K] of [
      [261, 258, 530],
      [260, 264, 532],
    ] as const) {
      const bias = randomData(N, rng);
      for (const id of E.MATMUL_CONFIG_IDS.filter((c) => c.startsWith('uniform'))) {
        E.setMatmulVariant(id);
        for (const [ta, tb] of TRANSPOSES) {
          const a = hostTensor(matrixShape(M, K, ta), rng);
          const b = hostTensor(matrixShape(K, N, tb), rng);
          expect(E.matmulConfigFor({ a: a.shape, b: b.shape, transposeA: ta, transposeB: tb }).config).toBe(id);
          await expectMatchesReference(
            a,
            b,
            { transposeA: ta, transposeB: tb, bias, relu: ta },
            `${id} ${M}x${N}x${K} transposeA=${ta} transposeB=${tb}`,
          );
        }
      }
    }
  });

  it('matches the reference with N not a multiple of 4 and a depth shorter than a quad', async () => {
    const rng = new Rng(15);
    E.setMatmulVariant('uniform-8x8-wg8x8');
    for (const [m, n, k] of [
      [37, 29, 3],
      [5, 130, 1],
      [70, 6, 1030],
      [128, 256, 784], // the MLP's first layer: A' 32 local rows per binding, B' 64
    ] as const) {
      const a = hostTensor([m, k], rng);
      const b = hostTensor([k, n], rng);
      await expectMatchesReference(a, b, {}, `uniform ${m}x${n}x${k}`);
    }
  });
});

describe('matmul with vec4 loads', () => {
  afterAll(() => E.setMatmulVariant(null));
  const rng = new Rng(17);

  it('reads every layout along its contiguous dimension, with partial blocks and a depth remainder', async () => {
    // M and N are multiples of 4 but not of the 8 x 8 block (C is written as vec4s); K = 44 (whole vec4s) for
    // every transpose, and K = 6 where only A^T and B are read (both across the depth), whose last two steps run
    // one at a time; N = 22 where A and B^T are both read along the depth, so C is written one float at a time.
    const cases: [number, number, number, boolean, boolean][] = [
      ...TRANSPOSES.map(([ta, tb]) => [36, 20, 44, ta, tb] as [number, number, number, boolean, boolean]),
      [12, 16, 6, true, false],
      [36, 22, 44, false, true],
      [4, 4, 4, false, false],
    ];
    for (const id of E.MATMUL_CONFIG_IDS.filter((c) => c.startsWith('vector'))) {
      E.setMatmulVariant(id);
      for (const [m, n, k, ta, tb] of cases) {
        const shapes = { a: matrixShape(m, k, ta), b: matrixShape(k, n, tb), transposeA: ta, transposeB: tb };
        expect(E.matmulConfigFor(shapes).config).toBe(id);
        const bias = randomData(n, rng);
        await expectMatchesReference(
          hostTensor(shapes.a, rng),
          hostTensor(shapes.b, rng),
          { transposeA: ta, transposeB: tb, bias, relu: true },
          `${id} ${m}x${n}x${k} ${ta}/${tb}`,
        );
      }
    }
  });

  it('falls back to scalar loads exactly when a contiguous dimension is not a multiple of 4', () => {
    E.setMatmulVariant('vector-8x8-wg8x8');
    const runs = (a: number[], b: number[], transposeA = false, transposeB = false) =>
      E.matmulConfigFor({ a, b, transposeA, transposeB }).config;
    expect(runs([8, 12], [12, 8])).toBe('vector-8x8-wg8x8');
    expect(runs([8, 10], [10, 8])).toBe('register-8x8-wg8x8'); // K % 4 != 0, A is read along K
    expect(runs([8, 12], [12, 6])).toBe('register-8x8-wg8x8'); // N % 4 != 0, B is read along N
    expect(runs([10, 8], [10, 8], true)).toBe('vector-8x8-wg8x8'); // A^T and B: K = 10 is free
    expect(runs([10, 6], [10, 8], true)).toBe('register-8x8-wg8x8'); // M = 6, A^T is read along M
    expect(runs([8, 12], [6, 12], false, true)).toBe('vector-8x8-wg8x8'); // A and B^T are both read along K: N = 6 is free
    expect(runs([8, 10], [6, 10], false, true)).toBe('register-8x8-wg8x8'); // ... but K = 10 is not
  });
});

describe('matmul heuristic on llvmpipe', () => {
  const llvmpipe = { isFallbackAdapter: true, backend: 'opengles' };
  const picks = (m: number, n: number, k: number, transposeA: boolean, transposeB: boolean) => {
    const d = { m, n, k, batch: 1 };
    return configId(runnableConfig(heuristicConfig(d, llvmpipe), { transposeA, transposeB }, d));
  };

  it("takes the 16 x 8 uniform block for the MLP step's large products, in every layout they use", () => {
    expect(picks(128, 256, 784, false, true)).toBe('uniform-16x8-wg8x8'); // forward, x W^T
    expect(picks(128, 256, 256, false, false)).toBe('uniform-16x8-wg8x8'); // input gradient, g W
    expect(picks(256, 784, 128, true, false)).toBe('uniform-16x8-wg8x8'); // weight gradient, g^T x
    expect(picks(64, 256, 64, false, false)).toBe('vector-8x8-wg8x8'); // fewer outputs: smaller vector blocks
  });

  it('keeps the vector block and workgroup, with scalar loads, where a contiguous dimension is not a multiple of 4', () => {
    expect(picks(128, 256, 10, false, false)).toBe('register-16x8-wg8x8'); // g W of the 10-wide layer: K = 10
    expect(picks(10, 256, 128, true, false)).toBe('register-4x4-wg8x8'); // g^T x of the 10-wide layer: M = 10
  });

  it('takes the uniform windows for single products from 128 x 256 outputs and a depth of 64, in every layout', () => {
    for (const [ta, tb] of TRANSPOSES) expect(picks(1024, 1024, 1024, ta, tb)).toBe('uniform-16x8-wg8x8');
    expect(picks(128, 256, 64, false, false)).toBe('uniform-16x8-wg8x8');
    expect(picks(1024, 1024, 32, false, false)).toBe('vector-16x8-wg8x8'); // shallow
    const batched = { m: 1024, n: 1024, k: 1024, batch: 2 };
    expect(configId(heuristicConfig(batched, llvmpipe))).toBe('vector-16x8-wg8x8');
  });

  it('runs a uniform block as a vector one where the device cannot bind or hold the windows', () => {
    const uniform = configById('uniform-16x8-wg8x8')!;
    const big = {
      maxUniformBufferBindingSize: 65536,
      maxUniformBuffersPerShaderStage: 12,
      maxStorageBufferBindingSize: 2 ** 27,
      maxBufferSize: 2 ** 30,
    };
    const d = { m: 1024, n: 1024, k: 1024 };
    expect(configId(deviceConfig(uniform, big, d))).toBe('uniform-16x8-wg8x8');
    expect(configId(deviceConfig(uniform, { ...big, maxUniformBufferBindingSize: 16384 }, d))).toBe('vector-16x8-wg8x8');
    expect(configId(deviceConfig(uniform, { ...big, maxUniformBuffersPerShaderStage: 8 }, d))).toBe('vector-16x8-wg8x8');
    // 8192^3: each packed operand is 256 MiB, over a 128 MiB storage binding.
    expect(configId(deviceConfig(uniform, big, { m: 8192, n: 8192, k: 8192 }))).toBe('vector-16x8-wg8x8');
  });

  it('leaves SwiftShader on the scalar register blocks', () => {
    const d = { m: 128, n: 256, k: 784, batch: 1 };
    expect(configId(heuristicConfig(d, { isFallbackAdapter: true, backend: 'vulkan' }))).toBe('register-16x8-wg4x4');
    const large = { m: 1024, n: 1024, k: 1024, batch: 1 };
    expect(configId(heuristicConfig(large, { isFallbackAdapter: true, backend: 'vulkan' }))).toBe('register-16x8-wg4x4');
  });
});

describe('matmul, many batches', () => {
  it('runs batches beyond the 65535-workgroup limit of one dispatch', async () => {
    const rng = new Rng(13);
    await expectMatchesReference(hostTensor([65537, 1, 2], rng), hostTensor([2, 3], rng), {}, '65537 batches');
  });
});

describe('matmul gradients', () => {
  const rng = new Rng(5);

  it('flow to a, b and bias through the fused relu', async () => {
    // Pre-activations stay at least 0.2 away from the kink (|a.b| <= 3 * 0.3 * 0.3, |bias| >= 0.5), so finite
    // differences never cross it; columns with a negative bias are cut by relu, the others pass.
    const a = hostTensor([4, 3], rng, -0.3, 0.3);
    const b = hostTensor([5, 3], rng, -0.3, 0.3);
    const bias = { data: Float32Array.from({ length: 5 }, (_, j) => (j % 2 === 0 ? 1 : -1) * (0.5 + 0.5 * rng.next())), shape: [5] };
    await gradCheck((x, y, z) => E.matmul(x, y, { transposeB: true, bias: z, activation: 'relu' }), [a, b, bias]);
    await gradCheck((x, y, z) => E.matmul(x, y, { transposeB: true, bias: z }), [a, b, bias]);
  });

  it('sum over broadcast batch dims back to each operand', async () => {
    await gradCheck((x, y) => E.matmul(x, y), [hostTensor([2, 1, 3, 4], rng), hostTensor([3, 4, 2], rng)]);
    await gradCheck((x, y) => E.matmul(x, y, { transposeA: true }), [hostTensor([3, 4, 2], rng), hostTensor([4, 5], rng)]);
  });

  it('flow through 1-D operands', async () => {
    await gradCheck((x, y) => E.matmul(x, y), [hostTensor([4], rng), hostTensor([2, 4, 3], rng)]);
    await gradCheck((x, y) => E.matmul(x, y), [hostTensor([3, 4], rng), hostTensor([4], rng)]);
  });
});

describe('matmul input errors', () => {
  const t = (shape: number[], dtype: E.DType = 'f32') => E.zeros(shape, dtype);

  it('name matmul and the shapes', () => {
    expect(() => E.matmul(t([2, 3]), t([4, 5]))).toThrow(
      /^matmul: inner dimensions differ: a \[2, 3\] gives K = 3 but b \[4, 5\] gives K = 4/,
    );
    expect(() => E.matmul(t([3, 2]), t([3, 5]), { transposeB: true })).toThrow(/matmul: .*a \[3, 2\].*b \[3, 5\]/);
    expect(() => E.matmul(t([]), t([3]))).toThrow(/^matmul: .*a \[\] and b \[3\]/);
    expect(() => E.matmul(t([2, 2, 3]), t([5, 3, 4]))).toThrow(
      /^matmul: batch dimensions of a \[2, 2, 3\].*b \[5, 3, 4\].*cannot be broadcast/,
    );
    expect(() => E.matmul(t([2, 3]), t([3, 4], 'i32'))).toThrow(/^matmul: dtype mismatch: a f32\[2, 3\] vs b i32\[3, 4\]/);
    expect(() => E.matmul(t([2, 3], 'i32'), t([3, 4], 'i32'))).toThrow(/^matmul: expects f32 tensors, got a i32\[2, 3\]/);
    expect(() => E.matmul(t([2, 3]), t([3, 4]), { bias: t([3]) })).toThrow(/^matmul: bias must have shape \[4\].*got \[3\]/);
    expect(() => E.matmul(t([2, 3]), t([3, 4]), { activation: 'tanh' as 'relu' })).toThrow(/^matmul: unknown activation 'tanh'/);
  });

  it('reject unknown variants', () => {
    expect(() => E.setMatmulVariant('fastest')).toThrow(/setMatmulVariant: unknown variant 'fastest'.*shared, register, vector, naive/);
  });
});

describe('matmul autotuner', () => {
  let dir = '';
  const saved = process.env.MLOCK_CACHE_DIR;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlock-autotune-'));
    process.env.MLOCK_CACHE_DIR = dir;
    E.resetMatmulTuning();
    E.setMatmulAutotune(true);
  });
  afterAll(async () => {
    E.setMatmulAutotune(false);
    E.resetMatmulTuning();
    if (saved === undefined) delete process.env.MLOCK_CACHE_DIR;
    else process.env.MLOCK_CACHE_DIR = saved;
    await rm(dir, { recursive: true, force: true });
  });

  const product = { a: [24, 40], b: [40, 20] };

  it('times every configuration, keeps the fastest, and matmul then uses it', async () => {
    const [result] = await E.tuneMatmul([product], { withGradients: false });
    expect(result!.source).toBe('measured');
    expect(Object.keys(result!.timesMs).sort()).toEqual([...E.MATMUL_CONFIG_IDS].sort());
    const fastest = Object.entries(result!.timesMs).reduce((x, y) => (y[1] < x[1] ? y : x));
    expect(result!.config).toBe(fastest[0]);
    expect(E.matmulConfigFor(product)).toEqual({ config: result!.config, source: 'cache' });
    const rng = new Rng(21);
    await expectMatchesReference(hostTensor(product.a, rng), hostTensor(product.b, rng), {}, `tuned ${result!.config}`);
  });

  it('round-trips its choice through the cache file', async () => {
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^autotune-[0-9a-f]{8}\.json$/);
    const stored = JSON.parse(await readFile(join(dir, files[0]!), 'utf8')) as { entries: Record<string, { config: string }> };
    const chosen = E.matmulConfigFor(product).config;
    expect(Object.values(stored.entries).map((e) => e.config)).toEqual([chosen]);

    E.resetMatmulTuning();
    expect(E.matmulConfigFor(product).source).toBe('heuristic');
    await E.loadMatmulTuning();
    expect(E.matmulConfigFor(product)).toEqual({ config: chosen, source: 'cache' });
    const [again] = await E.tuneMatmul([product], { withGradients: false });
    expect(again).toMatchObject({ config: chosen, source: 'cache' });
  });

  it('uses only the heuristic when turned off, and tunes the backward products too', async () => {
    E.setMatmulAutotune(false);
    expect(E.matmulConfigFor(product).source).toBe('heuristic');
    // Linear layer forward x[8, 12] @ W[6, 12]^T, then dx = g @ W ([8, 6] x [6, 12]) and dW = g^T @ x ([6, 8] x [8, 12]).
    const results = await E.tuneMatmul([{ a: [8, 12], b: [6, 12], transposeB: true }]);
    expect(results.map((r) => [r.bucket, r.source])).toEqual([
      ['nt-m3-n3-k4-b0', 'heuristic'],
      ['nn-m3-n4-k3-b0', 'heuristic'],
      ['tn-m3-n4-k3-b0', 'heuristic'],
    ]);
    E.setMatmulAutotune(true);
  });
});
