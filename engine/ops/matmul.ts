/**
 * Matrix products: batched with NumPy broadcasting of the leading dims, either operand read transposed in
 * place, 1-D operands as in NumPy (a vector on the left is a row, on the right a column, and that dim is dropped
 * from the result), and an optional fused epilogue: a bias of shape [N] added to every row, then relu.
 *
 * Shapes and dtypes are checked here before any GPU work. Which kernel runs (variant and tile sizes) is the
 * autotuner's choice for the adapter and shape bucket, or its heuristic until `tuneMatmul` has measured it.
 * Gradients are matmuls themselves, with transpose flags instead of materialised transposes.
 */
import { defineOp } from '../graph.js';
import { runtime } from '../context.js';
import { fmt, sizeOf, type Shape } from '../shape.js';
import { emptyTensor, type Tensor } from '../tensor.js';
import { checkDropoutP, checkDropoutSeed, dropoutMask } from './dropout.js';
import { reluGrad } from './elementwise.js';
import { reshape } from './layout.js';
import { sumToShape } from './reduce.js';
import {
  autotuneEnabled,
  chooseConfig,
  forceConfig,
  prepare,
  resetTuning,
  setAutotuneEnabled,
  tune,
  type TuneProblem,
  type TuneResult,
} from '../tuning/matmul-autotune.js';
import { configId, deviceConfig, MATMUL_CONFIGS, runnableConfig, type MatmulDims } from '../../kernels/matmul/configs.js';
import { collapseBatch, matmulBindings, matmulDispatches, type MatmulBuffers } from '../../kernels/matmul/dispatch.js';
import { dropoutUniforms } from '../../kernels/dropout.js';

export interface MatmulOptions {
  /** Use A^T (the last two dims of `a` swapped). Ignored for a 1-D `a`, which is a vector either way. */
  transposeA?: boolean;
  /** Use B^T (the last two dims of `b` swapped). Ignored for a 1-D `b`. */
  transposeB?: boolean;
  /** Shape [N]: added to every row of the product, in the same kernel. */
  bias?: Tensor;
  /** Applied after the bias, in the same kernel. */
  activation?: 'none' | 'relu';
  /**
   * Inverted dropout after the activation, in the same kernel: exactly the mask `dropout(y, p, { seed })` would
   * draw on the (contiguous) result. Its gradient costs no pass of its own after a relu (the output masks both).
   */
  dropout?: { p: number; seed: number };
}

/** Operand shapes of a product, with the flags that say how they are read. */
export interface MatmulShapes {
  a: Shape;
  b: Shape;
  transposeA?: boolean;
  transposeB?: boolean;
}

/** A checked product: its sizes, the operands seen as (batched) matrices, and the result's shape. */
interface ProductPlan {
  dims: MatmulDims;
  transposeA: boolean;
  transposeB: boolean;
  /** Operand shapes of rank >= 2 (1-D operands become a row or a column). */
  aMatrix: number[];
  bMatrix: number[];
  outBatch: number[];
  /** The result's shape before 1-D operands' dims are dropped, and after. */
  productShape: number[];
  outShape: number[];
}

function planProduct(s: MatmulShapes): ProductPlan {
  const { a, b } = s;
  if (a.length === 0 || b.length === 0) {
    throw new Error(`matmul: operands need at least one dimension, got a ${fmt(a)} and b ${fmt(b)}`);
  }
  const transposeA = a.length > 1 && (s.transposeA ?? false);
  const transposeB = b.length > 1 && (s.transposeB ?? false);
  const aMatrix = a.length === 1 ? [1, a[0]!] : [...a];
  const bMatrix = b.length === 1 ? [b[0]!, 1] : [...b];
  const [ar, ac] = aMatrix.slice(-2) as [number, number];
  const [br, bc] = bMatrix.slice(-2) as [number, number];
  const [m, ka] = transposeA ? [ac, ar] : [ar, ac];
  const [kb, n] = transposeB ? [bc, br] : [br, bc];
  if (ka !== kb) {
    const flags = `transposeA: ${transposeA}, transposeB: ${transposeB}`;
    throw new Error(`matmul: inner dimensions differ: a ${fmt(a)} gives K = ${ka} but b ${fmt(b)} gives K = ${kb} (${flags})`);
  }
  const aBatch = aMatrix.slice(0, -2);
  const bBatch = bMatrix.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const outBatch = Array.from({ length: rank }, (_, i) => {
    const da = aBatch[aBatch.length - rank + i] ?? 1;
    const db = bBatch[bBatch.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`matmul: batch dimensions of a ${fmt(a)} (${fmt(aBatch)}) and b ${fmt(b)} (${fmt(bBatch)}) cannot be broadcast`);
    }
    return da === 1 ? db : da;
  });
  const productShape = [...outBatch, m, n];
  const outShape = [...outBatch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  return { dims: { m, n, k: ka, batch: sizeOf(outBatch) }, transposeA, transposeB, aMatrix, bMatrix, outBatch, productShape, outShape };
}

function checkOperands(a: Tensor, b: Tensor, bias: Tensor | undefined): void {
  a.buffer('matmul');
  b.buffer('matmul');
  bias?.buffer('matmul');
  const describe = (t: Tensor) => `${t.dtype}${fmt(t.shape)}`;
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtype mismatch: a ${describe(a)} vs b ${describe(b)}; cast one operand first`);
  if (a.dtype !== 'f32') throw new Error(`matmul: expects f32 tensors, got a ${describe(a)} and b ${describe(b)}`);
  if (bias && bias.dtype !== 'f32') throw new Error(`matmul: bias must be f32, got ${describe(bias)}`);
}

/** What follows the dot products in the kernel. */
interface Epilogue {
  bias: Tensor | undefined;
  relu: boolean;
  dropout: { p: number; seed: number } | undefined;
}

/** The product of two operands of rank >= 2, recorded as one 'matmul' node. */
function product(a: Tensor, b: Tensor, plan: ProductPlan, { bias, relu, dropout }: Epilogue): Tensor {
  const out = emptyTensor(plan.productShape, 'f32', 'matmul');
  const { dims, transposeA, transposeB } = plan;
  if (out.size > 0) {
    const batch = collapseBatch(plan.outBatch, plan.aMatrix.slice(0, -2), plan.bMatrix.slice(0, -2), dims.m * dims.k, dims.k * dims.n);
    const flags = { transposeA, transposeB, batchRank: batch.shape.length, bias: bias !== undefined, relu, dropout: dropout !== undefined };
    const rt = runtime();
    const config = deviceConfig(chooseConfig(rt.info, { dims, transposeA, transposeB }).config, rt.limits, dims);
    const mask = dropout ? dropoutUniforms(dropout.p, dropout.seed) : {};
    const work = matmulDispatches(config, flags, dims, batch);
    const buffers: MatmulBuffers = { a: a.buffer('matmul'), b: b.buffer('matmul'), c: out.buffer('matmul'), bias: bias?.buffer('matmul') };
    // Packed operands (the 'uniform' windows) live for this product only: released once its dispatches are recorded.
    const packed = work.packed ? [rt.uniformWindowBuffer(work.packed.a), rt.uniformWindowBuffer(work.packed.b)] : [];
    [buffers.packedA, buffers.packedB] = packed;
    try {
      for (const d of work.dispatches) {
        const uniforms = d.binds.kind === 'pack' ? d.uniforms : { ...d.uniforms, ...mask };
        rt.run({ program: d.program, uniforms, trips: d.trips }, matmulBindings(d, buffers));
      }
    } finally {
      for (const p of packed) rt.pool.release(p);
    }
  }
  return matmulOp.record(out, bias ? [a, b, bias] : [a, b], { transposeA, transposeB, relu, dropout: dropout ?? null }, {});
}

/**
 * a @ b with NumPy semantics (batched, broadcast), optionally transposed operands, then `+ bias` and the
 * activation, all in one kernel. Shapes: a [..., M, K] (or [..., K, M] with transposeA), b [..., K, N] (or
 * [..., N, K] with transposeB), bias [N]; the result is [...broadcast batch, M, N].
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const { bias } = options;
  checkOperands(a, b, bias);
  const activation = options.activation ?? 'none';
  if (activation !== 'none' && activation !== 'relu')
    throw new Error(`matmul: unknown activation '${String(activation)}'; expected 'none' or 'relu'`);
  if (options.dropout) {
    checkDropoutP('matmul', options.dropout.p);
    checkDropoutSeed('matmul', options.dropout.seed, 'options.dropout.seed');
  }
  const plan = planProduct({ a: a.shape, b: b.shape, transposeA: options.transposeA, transposeB: options.transposeB });
  if (bias && (bias.rank !== 1 || bias.shape[0] !== plan.dims.n)) {
    throw new Error(`matmul: bias must have shape [${plan.dims.n}] (N of a ${fmt(a.shape)} @ b ${fmt(b.shape)}), got ${fmt(bias.shape)}`);
  }
  // 1-D operands run as a 1-row or 1-column matrix; the views are recorded, so gradients flow back through them.
  const a2 = a.rank === 1 ? reshape(a, plan.aMatrix) : a;
  const b2 = b.rank === 1 ? reshape(b, plan.bMatrix) : b;
  const full = product(a2, b2, plan, { bias, relu: activation === 'relu', dropout: options.dropout });
  for (const view of [a2, b2]) if (view !== a && view !== b && !view.requiresGrad) view.dispose();
  if (plan.outShape.length === plan.productShape.length) return full;
  const out = reshape(full, plan.outShape);
  if (!full.requiresGrad) full.dispose();
  return out;
}

/**
 * How each operand's gradient is itself a product of the upstream gradient g and the other operand. With
 * out = A'B' (A' = A or A^T, B' = B or B^T): dA' = g B'^T and dB' = A'^T g; when an operand was read transposed,
 * its gradient is the transpose of that, written as a product in the other order. Used by the gradient rule
 * and by `tuneMatmul` (to tune the backward products too).
 */
interface GradientProduct {
  x: 'a' | 'b' | 'g';
  y: 'a' | 'b' | 'g';
  transposeA: boolean;
  transposeB: boolean;
}

function gradientProducts(transposeA: boolean, transposeB: boolean): { a: GradientProduct; b: GradientProduct } {
  return {
    a: transposeA
      ? { x: 'b', y: 'g', transposeA: transposeB, transposeB: true }
      : { x: 'g', y: 'b', transposeA: false, transposeB: !transposeB },
    b: transposeB
      ? { x: 'g', y: 'a', transposeA: true, transposeB: transposeA }
      : { x: 'a', y: 'g', transposeA: !transposeA, transposeB: false },
  };
}

interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  relu: boolean;
  dropout: { p: number; seed: number } | null;
}

const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  grad: (g, node, out) => matmulGrad(g, node.inputs, node.attrs, out),
});

function matmulGrad(g: Tensor, inputs: readonly Tensor[], attrs: MatmulAttrs, out: Tensor): (Tensor | null)[] {
  const [a, b, bias] = inputs as [Tensor, Tensor, Tensor | undefined];
  const { transposeA, transposeB, relu, dropout } = attrs;
  // The output is all relu's mask needs; after a relu it is zero exactly where dropout dropped too (or the relu
  // did), so one pass applies both masks and the dropout scale.
  const scale = dropout ? dropoutUniforms(dropout.p, dropout.seed).scale : 1;
  const gz = relu ? reluGrad(g, out, scale) : dropout ? dropoutMask(g, dropout.p, dropout.seed) : g;
  const operands = { a, b, g: gz };
  const plans = gradientProducts(transposeA, transposeB);
  const grads: (Tensor | null)[] = [a, b].map((x, i) => {
    if (!x.requiresGrad) return null;
    const p = i === 0 ? plans.a : plans.b;
    // Broadcast batch dims are summed back to the operand's own shape.
    return sumToShape(matmul(operands[p.x], operands[p.y], p), x.shape);
  });
  if (bias) grads.push(bias.requiresGrad ? sumToShape(gz, bias.shape) : null);
  return grads;
}

// ---- tuning --------------------------------------------------------------------------------------------

/**
 * Measure the matmul configurations for these products (and, unless `withGradients` is false, for the products
 * their backward pass runs) on this adapter, and use the fastest from now on. Results persist in the adapter's
 * cache file (Node), so a bucket is measured once per machine. Call it once before a training loop.
 */
export async function tuneMatmul(products: readonly MatmulShapes[], options: { withGradients?: boolean } = {}): Promise<TuneResult[]> {
  const problems: TuneProblem[] = [];
  const add = (s: MatmulShapes) => {
    const p = planProduct(s);
    problems.push({ dims: p.dims, transposeA: p.transposeA, transposeB: p.transposeB });
    return p;
  };
  for (const s of products) {
    const p = add(s);
    if (options.withGradients === false) continue;
    const shapes = { a: p.aMatrix, b: p.bMatrix, g: p.productShape };
    const plans = gradientProducts(p.transposeA, p.transposeB);
    for (const q of [plans.a, plans.b]) add({ a: shapes[q.x], b: shapes[q.y], transposeA: q.transposeA, transposeB: q.transposeB });
  }
  return tune(runtime(), problems);
}

/** Read this adapter's stored tuning results (tuneMatmul does this itself). */
export function loadMatmulTuning(): Promise<void> {
  return prepare(runtime());
}

/** The configuration a matmul of these shapes would run with now (after any vector-to-register fallback), and why. */
export function matmulConfigFor(s: MatmulShapes): { config: string; source: TuneResult['source'] } {
  const p = planProduct(s);
  const rt = runtime();
  const { config, source } = chooseConfig(rt.info, { dims: p.dims, transposeA: p.transposeA, transposeB: p.transposeB });
  return { config: configId(runnableConfig(deviceConfig(config, rt.limits, p.dims), p, p.dims)), source };
}

/** Turn measurement-based choices on or off (off: the heuristic only, reproducible everywhere). MLOCK_AUTOTUNE=0 starts it off. */
export function setMatmulAutotune(on: boolean): void {
  setAutotuneEnabled(on);
}

export function isMatmulAutotuneEnabled(): boolean {
  return autotuneEnabled();
}

/** Force every matmul onto one variant ('shared', 'register', 'naive') or one configuration id; null lifts it. */
export function setMatmulVariant(name: string | null): void {
  forceConfig(name);
}

/** Forget tuned choices held in memory; the cache file stays and is read again by the next tuneMatmul. */
export function resetMatmulTuning(): void {
  resetTuning();
}

/** Ids of every configuration, for `setMatmulVariant` and benchmarks. */
export const MATMUL_CONFIG_IDS: readonly string[] = MATMUL_CONFIGS.map(configId);

export { MATMUL_VARIANTS, type MatmulVariant } from '../../kernels/matmul/configs.js';
export type { TuneResult as MatmulTuneResult } from '../tuning/matmul-autotune.js';
