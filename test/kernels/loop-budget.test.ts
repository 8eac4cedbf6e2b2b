/**
 * Past llvmpipe's silent loop cap (65,535 iterations per invocation): every reduction-like op and every GEMM
 * variant at sizes whose naive kernels would loop 200,000 or 300,000 times, against float64 references computed
 * here on seeded inputs. Tolerances: relative error 1e-4 for sums (1e-5 where the values are O(1) logs), exact
 * indices for argmax/argmin. Kept lean (few, thin tensors) so CI stays fast; the loop check is strict in tests,
 * so a kernel that loops past the budget fails its dispatch instead of returning a partial result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { checkTrips, LOOP_BUDGET } from '../../kernels/loop-budget.js';
import type { KernelProgram } from '../../kernels/program.js';
import { expectClose, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { convBackwardFilterRef, convBackwardInputRef, convForwardRef } from '../helpers/conv-reference.js';

useEngine();

const LONG = 200_000;
const data = (t: E.Tensor) => t.data() as Promise<Float32Array>;

/** |got - want| <= rtol * |want| for one number. */
function expectRel(got: number, want: number, rtol: number, what: string): void {
  expect(Math.abs(got - want), `${what}: got ${got}, want ${want}`).toBeLessThanOrEqual(rtol * Math.abs(want));
}

describe('the loop budget check', () => {
  const looping: KernelProgram = {
    name: 'someOp',
    key: 'test|loop',
    workgroupSize: [1],
    uniforms: [],
    inputs: {},
    outputs: { out: 'f32' },
    grid: () => [1],
    body: () => '',
  };
  const d = (trips?: number) => ({ program: looping, trips });

  it('refuses a planned trip count over the budget, naming the op', () => {
    expect(() => checkTrips(d(LOOP_BUDGET + 1), true, 'budget')).toThrow(
      /someOp: planned 16385 loop iterations per invocation exceed the loop budget of 16384/,
    );
    expect(() => checkTrips(d(LOOP_BUDGET), true, 'budget')).not.toThrow();
    expect(() => checkTrips(d(LOOP_BUDGET + 1), true, 'off')).not.toThrow();
  });

  it('in strict mode (tests), refuses a looping kernel that declares no trip count', () => {
    expect(() => checkTrips(d(undefined), true, 'strict')).toThrow(
      /someOp: kernel test\|loop has loops but its dispatch declares no trip count/,
    );
    expect(() => checkTrips(d(undefined), false, 'strict')).not.toThrow();
    expect(() => checkTrips(d(undefined), true, 'budget')).not.toThrow();
    expect(E.runtime().loopCheck).toBe('strict');
  });
});

describe('reductions of 200,000', () => {
  const rng = new Rng(10);
  const x = randomData(LONG, rng);

  it('sum, mean, max, min of a vector and down a non-contiguous axis', async () => {
    let sum = 0;
    let sumAbs = 0;
    for (const v of x) {
      sum += v;
      sumAbs += Math.abs(v);
    }
    const t = E.tensor(x);
    // Signed values cancel, so the sum's error is judged against sum |x| (its condition number's numerator):
    // at most 1e-6 of it, stricter than 1e-4 of a sum of positive values. A partial sum misses ~1/3 of the terms.
    expect(Math.abs((await data(E.sum(t)))[0]! - sum)).toBeLessThanOrEqual(1e-6 * sumAbs);
    expect(Math.abs((await data(E.mean(t)))[0]! - sum / LONG)).toBeLessThanOrEqual((1e-6 * sumAbs) / LONG);
    expect((await data(E.max(t)))[0]).toBe(x.reduce((p, v) => Math.max(p, v), -Infinity));
    expect((await data(E.min(t)))[0]).toBe(x.reduce((p, v) => Math.min(p, v), Infinity));
    // [100000, 2] down axis 0: strided reads, two outputs.
    const cols = E.tensor(x, [LONG / 2, 2]);
    const want = [0, 0];
    const wantMax = [-Infinity, -Infinity];
    for (let i = 0; i < LONG; i++) {
      want[i % 2]! += x[i]!;
      wantMax[i % 2] = Math.max(wantMax[i % 2]!, x[i]!);
    }
    const got = await data(E.sum(cols, 0));
    for (let k = 0; k < 2; k++) expect(Math.abs(got[k]! - want[k]!)).toBeLessThanOrEqual(1e-6 * sumAbs);
    expect(Array.from(await data(E.max(cols, 0)))).toEqual(wantMax);
    t.dispose();
    cols.dispose();
  });

  it('argmax and argmin find extremes near the end (first index on ties), along rows and down columns', async () => {
    const v = Float32Array.from(x);
    v[LONG - 3] = 2;
    v[LONG - 2] = 2; // a tie: the first one wins
    v[LONG - 5] = -2;
    const t = E.tensor(v);
    expect(Array.from((await E.argmax(t).data()) as Int32Array)).toEqual([LONG - 3]);
    expect(Array.from((await E.argmin(t).data()) as Int32Array)).toEqual([LONG - 5]);
    const rows = E.tensor(v, [2, LONG / 2]);
    expect(Array.from((await E.argmax(rows, 1).data()) as Int32Array)).toEqual([argmaxRef(v.subarray(0, LONG / 2)), LONG / 2 - 3]);
    const cols = E.tensor(v, [LONG / 2, 2]);
    const even = v.filter((_, i) => i % 2 === 0);
    const odd = v.filter((_, i) => i % 2 === 1);
    expect(Array.from((await E.argmin(cols, 0).data()) as Int32Array)).toEqual([argminRef(even), argminRef(odd)]);
    for (const u of [t, rows, cols]) u.dispose();
  });
});

function argmaxRef(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

function argminRef(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! < a[best]!) best = i;
  return best;
}

/** log-softmax of each row of [rows, cols], in float64. */
function logSoftmaxRows(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]!);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j]! - m);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j]! - m - Math.log(s);
  }
  return out;
}

describe('softmax family over rows of 200,000', () => {
  const rows = 2;
  const rng = new Rng(11);
  // Logits around 50 with a spread of 8: the shift by the row maximum matters.
  const x = randomData(rows * LONG, rng, 46, 54);
  const logp = logSoftmaxRows(x, rows, LONG);

  it('softmax and logSoftmax forward, and the softmax gradient', async () => {
    const t = E.tensor(x, [rows, LONG]);
    expectClose(await data(E.logSoftmax(t)), logp, 1e-5, 1e-5, 'logSoftmax');
    const p = logp.map(Math.exp);
    t.requiresGrad = true;
    const w = randomData(rows * LONG, rng);
    const y = E.softmax(t);
    expectClose(await data(y), p, 1e-4, 1e-12, 'softmax');
    E.sum(E.mul(y, E.tensor(w, [rows, LONG]))).backward();
    // d/dx sum(w * softmax(x)) = y * (w - sum(w * y)) per row.
    const want = new Float64Array(rows * LONG);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < LONG; j++) dot += w[r * LONG + j]! * p[r * LONG + j]!;
      for (let j = 0; j < LONG; j++) want[r * LONG + j] = p[r * LONG + j]! * (w[r * LONG + j]! - dot);
    }
    expectClose(await data(t.grad!), want, 1e-3, 1e-10, 'softmax gradient');
    t.dispose();
  });

  it('crossEntropy with labels and with target distributions, and its gradient', async () => {
    const labels = Int32Array.from([LONG - 1, 12_345]);
    const t = E.tensor(x, [rows, LONG]);
    t.requiresGrad = true;
    const loss = E.crossEntropy(t, E.tensor(labels));
    const want = -(logp[labels[0]!]! + logp[LONG + labels[1]!]!) / rows;
    expectRel((await data(loss))[0]!, want, 1e-4, 'crossEntropy (labels)');
    loss.backward();
    const grad = new Float64Array(rows * LONG);
    for (let i = 0; i < rows * LONG; i++) grad[i] = Math.exp(logp[i]!) / rows;
    grad[labels[0]!]! -= 1 / rows;
    grad[LONG + labels[1]!]! -= 1 / rows;
    expectClose(await data(t.grad!), grad, 1e-3, 1e-9, 'crossEntropy gradient');
    // Soft targets: uniform over the first 1,000 classes of each row.
    const target = new Float32Array(rows * LONG);
    let soft = 0;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < 1000; j++) {
        target[r * LONG + j] = 1 / 1000;
        soft -= logp[r * LONG + j]! / 1000 / rows;
      }
    }
    const tgt = E.tensor(target, [rows, LONG]);
    expectRel((await data(E.crossEntropy(t, tgt)))[0]!, soft, 1e-4, 'crossEntropy (targets)');
    // KL adds sum t log t = log(1/1000) per row.
    expectRel((await data(E.klDivergence(t, tgt)))[0]!, soft + Math.log(1 / 1000), 1e-4, 'klDivergence');
    t.dispose();
    tgt.dispose();
  });
});

/** The float64 product of row-major a [M, K] and b [K, N]. */
function referenceProduct(a: Float32Array, b: Float32Array, M: number, K: number, N: number): Float64Array {
  const want = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k]! * b[k * N + j]!;
      want[i * N + j] = s;
    }
  }
  return want;
}

describe('GEMM with K = 300,000 (split-K), every variant', () => {
  const [M, K, N] = [2, 300_000, 3];
  const rng = new Rng(12);
  // Positive operands keep the dot products well conditioned, so 1e-4 judges the summation, not cancellation.
  const a = randomData(M * K, rng, 0, 1);
  const b = randomData(K * N, rng, 0, 1);
  const bias = Float32Array.from([1, 2, -1e6]); // the last column goes through relu to 0
  const want = referenceProduct(a, b, M, K, N);
  for (const variant of E.MATMUL_VARIANTS) {
    describe(variant, () => {
      beforeAll(() => E.setMatmulVariant(variant));
      afterAll(() => E.setMatmulVariant(null));
      it('with the fused bias + relu epilogue, plain, and with A transposed', async () => {
        const ta = E.tensor(a, [M, K]);
        const tb = E.tensor(b, [K, N]);
        const fused = await data(E.matmul(ta, tb, { bias: E.tensor(bias), activation: 'relu' }));
        expectClose(
          fused,
          want.map((v, i) => Math.max(0, v + bias[i % N]!)),
          1e-4,
          0,
          `${variant} matmul + bias + relu`,
        );
        // The shared variant's barriers make it slow on SwiftShader (seconds per product here): one product is enough.
        if (variant === 'shared') return;
        expectClose(await data(E.matmul(ta, tb)), want, 1e-4, 0, `${variant} matmul`);
        // Transposed A ([K, M] in memory) takes the other load path of the kernel.
        const at = new Float32Array(K * M);
        for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) at[k * M + i] = a[i * K + k]!;
        expectClose(await data(E.matmul(E.tensor(at, [K, M]), tb, { transposeA: true })), want, 1e-4, 0, `${variant} matmul (A^T)`);
        ta.dispose();
        tb.dispose();
      });
    });
  }
});

describe('GEMM with K = 300,000 (split-K), the 16 x 8 vector block', () => {
  // M and N leave partial blocks; every operand is read with vec4s, along the depth (A, B^T) or across it (A^T, B).
  const [M, K, N] = [20, 300_000, 12];
  const rng = new Rng(14);
  const a = randomData(M * K, rng, 0, 1);
  const b = randomData(K * N, rng, 0, 1);
  const want = referenceProduct(a, b, M, K, N);
  /** The [rows, cols] matrix stored transposed. */
  const transposed = (x: Float32Array, rows: number, cols: number) => {
    const t = new Float32Array(x.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c]!;
    return t;
  };
  beforeAll(() => E.setMatmulVariant('vector-16x8-wg8x8'));
  afterAll(() => E.setMatmulVariant(null));

  it('A and B, and A^T and B^T', async () => {
    expect(E.matmulConfigFor({ a: [M, K], b: [K, N] }).config).toBe('vector-16x8-wg8x8');
    expectClose(await data(E.matmul(E.tensor(a, [M, K]), E.tensor(b, [K, N]))), want, 1e-4, 0, 'vector 16x8, nn');
    const at = E.tensor(transposed(a, M, K), [K, M]);
    const bt = E.tensor(transposed(b, K, N), [N, K]);
    expectClose(await data(E.matmul(at, bt, { transposeA: true, transposeB: true })), want, 1e-4, 0, 'vector 16x8, tt');
  });
});

describe('long per-channel and per-weight reductions', () => {
  // 400 x 250 planes take vec4 loads (H*W a multiple of 4), 401 x 250 scalar ones; both past the cap per channel.
  it.each([
    [2, 2, 400, 250],
    [2, 2, 401, 250],
  ] as const)('batchNorm2d statistics and channel gradient sums over 200,000 values per channel (%i x %i x %i x %i)', async (...shape) => {
    const hw = shape[2] * shape[3];
    const rng = new Rng(13);
    const x = randomData(2 * 2 * hw, rng, 99, 101); // a large mean: the shifted sums matter
    const mean = [0, 0];
    const variance = [0, 0];
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let n = 0; n < 2; n++) for (let k = 0; k < hw; k++) s += x[(n * 2 + c) * hw + k]!;
      mean[c] = s / (2 * hw);
      let q = 0;
      for (let n = 0; n < 2; n++) for (let k = 0; k < hw; k++) q += (x[(n * 2 + c) * hw + k]! - mean[c]!) ** 2;
      variance[c] = q / (2 * hw);
    }
    const runningMean = E.zeros([2]);
    const runningVar = E.ones([2]);
    const beta = E.zeros([2]);
    beta.requiresGrad = true;
    const xt = E.tensor(x, [...shape]);
    const yt = E.batchNorm2d(xt, { beta, runningMean, runningVar, training: true, momentum: 1 });
    const y = await data(yt);
    expectClose(await data(runningMean), mean, 1e-6, 0, 'batch mean');
    expectClose(
      await data(runningVar),
      variance.map((v) => (v * 2 * hw) / (2 * hw - 1)),
      1e-4,
      0,
      'unbiased batch variance',
    );
    const yRef = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / hw) % 2;
      yRef[i] = (x[i]! - mean[c]!) / Math.sqrt(variance[c]! + 1e-5);
    }
    expectClose(y, yRef, 1e-3, 1e-3, 'normalised output');
    // The backward's chunk pass: beta's gradient is the channel sum of the seed, here the element index mod 7.
    const seed = Float32Array.from({ length: x.length }, (_, i) => i % 7);
    const sums = [0, 0];
    for (let i = 0; i < x.length; i++) sums[Math.floor(i / hw) % 2]! += i % 7;
    E.backward(yt, E.tensor(seed, [...shape]));
    expectClose(await data(beta.grad!), sums, 1e-5, 0, 'beta gradient (channel sums of the seed)');
  });

  it('conv2dBackwardFilter over rows longer than the budget, and over many rows', async () => {
    const rng = new Rng(14);
    for (const [xs, ws] of [
      [
        [1, 2, 3, 70_000],
        [2, 3, 3],
      ], // OH = 1, OW = 69,998: chunks split a row
      [
        [4, 1, 200, 200],
        [3, 3, 3],
      ], // 156,816 output positions in rows of 198
      [
        [1, 1, 5, 60_002],
        [2, 1, 3],
      ], // row strips (rows of 60,000, a multiple of 4): 15,000 quads per row, 75,000 over the rows
      [
        [8, 1, 202, 200],
        [3, 3, 1],
      ], // row strips of single taps, vec4 loads (rows of 200): 1,600 rows of 50 quads
    ] as const) {
      const [N, C, H, W] = xs;
      const [O, KH, KW] = ws;
      const x = randomData(N * C * H * W, rng, 0, 1);
      const dy = randomData(N * O * (H - KH + 1) * (W - KW + 1), rng, 0, 1);
      const dw = E.conv2dBackwardFilter(E.tensor(x, [...xs]), E.tensor(dy, [N, O, H - KH + 1, W - KW + 1]), [O, C, KH, KW]);
      expectClose(
        await data(dw),
        convBackwardFilterRef({ x: xs, w: [O, C, KH, KW] }, x, dy),
        1e-4,
        0,
        `filter gradient for x [${xs.join(', ')}]`,
      );
    }
  });

  it('conv2d forward and input gradient over 8,000 channels (channel slices), both walks', async () => {
    const rng = new Rng(16);
    // 8,000 channels: the general walk would loop 72,012 times (past llvmpipe's cap), row strips 24,003 (past the budget).
    const [C, H, W, O, K] = [8000, 3, 4, 2, 3];
    const x = randomData(C * H * W, rng, 0, 1);
    const w = randomData(O * C * K * K, rng, 0, 1);
    const bias = Float32Array.from([0.5, -0.5]);
    const dy = randomData(O * (H - K + 1) * (W - K + 1), rng, 0, 1);
    const geometry = { x: [1, C, H, W], w: [O, C, K, K] } as const;
    const dxRef = convBackwardInputRef(geometry, dy, w);
    const wT = E.tensor(w, [O, C, K, K]);
    for (const walk of ['auto', 'vector', 'general'] as const) {
      E.setConvVariant(walk);
      const y = E.conv2d(E.tensor(x, [1, C, H, W]), wT, { bias: E.tensor(bias) });
      expectClose(await data(y), convForwardRef(geometry, x, w, bias), 1e-4, 0, `conv2d (${walk} walk)`);
      // The input gradient of the same product (8,000 input channels, 2 output channels: one slice).
      const dx = E.conv2dBackwardInput(E.tensor(dy, [1, O, H - K + 1, W - K + 1]), wT, [1, C, H, W]);
      expectClose(await data(dx), dxRef, 1e-4, 1e-6, `conv2dBackwardInput (${walk} walk)`);
    }
    // The input gradient reduces over output channels: w [8000, 1, 3, 3], sliced.
    const w2 = randomData(C * K * K, rng, 0, 1);
    const dy2 = randomData(C * (H - K + 1) * (W - K + 1), rng, 0, 1);
    const dx2Ref = convBackwardInputRef({ x: [1, 1, H, W], w: [C, 1, K, K] }, dy2, w2);
    for (const walk of ['auto', 'vector', 'general'] as const) {
      E.setConvVariant(walk);
      const dx2 = E.conv2dBackwardInput(E.tensor(dy2, [1, C, H - K + 1, W - K + 1]), E.tensor(w2, [C, 1, K, K]), [1, 1, H, W]);
      expectClose(await data(dx2), dx2Ref, 1e-4, 0, `conv2dBackwardInput over 8,000 output channels (${walk} walk)`);
    }
    E.setConvVariant('auto');
  });

  it('conv2d forward and input gradient in row blocks over 70,000 channels (channel slices)', async () => {
    const rng = new Rng(17);
    // Rows of 4 and channels in quads: 4-row blocks, one loop step per channel, so 70,000 channels would loop past
    // llvmpipe's cap in one dispatch; the forward reduces over the input channels, the input gradient over the outputs.
    const [C, H, W, K] = [70_000, 4, 4, 3];
    const opts = { padding: 1 } as const;
    const x = randomData(C * H * W, rng, 0, 1);
    const w = randomData(4 * C * K * K, rng, 0, 1);
    const dy = randomData(4 * H * W, rng, 0, 1);
    const wide = { x: [1, C, H, W], w: [4, C, K, K], padding: [1, 1] } as const;
    const yRef = convForwardRef(wide, x, w, null);
    const dxRef = convBackwardInputRef(wide, dy, w);
    // The input gradient of a convolution from 4 channels to 70,000, with the same weights read as [70000, 4, 3, 3].
    const narrow = { x: [1, 4, H, W], w: [C, 4, K, K], padding: [1, 1] } as const;
    const dy2 = randomData(C * H * W, rng, 0, 1);
    const dx2Ref = convBackwardInputRef(narrow, dy2, w);
    // 'vector' takes the row blocks on any adapter ('auto' does on llvmpipe, where it plans the same dispatches, and on
    // SwiftShader with OIHW weights and scalar strips).
    for (const walk of ['vector'] as const) {
      E.setConvVariant(walk);
      await E.scope(async () => {
        const wt = E.tensor(w, [4, C, K, K]);
        const y = E.conv2d(E.tensor(x, [1, C, H, W]), wt, opts);
        expectClose(await data(y), yRef, 1e-3, 0, `conv2d over 70,000 input channels (${walk} walk)`);
        const dx = E.conv2dBackwardInput(E.tensor(dy, [1, 4, H, W]), wt, [1, C, H, W], opts);
        expectClose(await data(dx), dxRef, 1e-4, 1e-6, `conv2dBackwardInput to 70,000 input channels (${walk} walk)`);
        const dx2 = E.conv2dBackwardInput(E.tensor(dy2, [1, C, H, W]), E.tensor(w, [C, 4, K, K]), [1, 4, H, W], opts);
        expectClose(await data(dx2), dx2Ref, 1e-3, 0, `conv2dBackwardInput over 70,000 output channels (${walk} walk)`);
      });
    }
    E.setConvVariant('auto');
  });

  it('the gradient of a gather with 200,000 indices into 7 rows', async () => {
    const rng = new Rng(15);
    const idx = Int32Array.from({ length: LONG }, () => Math.floor(rng.next() * 7));
    const w = randomData(LONG * 2, rng, 0, 1);
    const x = E.tensor(randomData(14, rng), [7, 2]);
    x.requiresGrad = true;
    E.sum(E.mul(E.gather(x, E.tensor(idx), 0), E.tensor(w, [LONG, 2]))).backward();
    const want = new Float64Array(14);
    for (let j = 0; j < LONG; j++) for (let k = 0; k < 2; k++) want[idx[j]! * 2 + k]! += w[j * 2 + k]!;
    expectClose(await data(x.grad!), want, 1e-4, 0, 'gather gradient');
  });
});
