/** Reductions over any axes, with keepdims: sum, mean, max, min, argmax, argmin. */
import { record } from '../autograd.js';
import { runtime } from '../context.js';
import { normalizeAxes, stridesOf, type Shape } from '../shape.js';
import { emptyTensor, viewTensor, type Tensor } from '../tensor.js';
import { reduceProgram, REDUCE_WORKGROUP, type ReduceOp } from '../../kernels/reduce.js';
import { grid1d } from '../../kernels/program.js';
import { padDims } from '../../kernels/wgsl.js';
import { mul } from './elementwise.js';

export interface ReduceOptions {
  keepDims?: boolean;
}

/** Reductions longer than this, over few outputs, are split into chunks finished by a second pass. */
const CHUNK = 1024;

function outShapeOf(shape: Shape, axes: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** One reduction pass; returns a tensor of shape [nOut * chunks] (flat). */
function reducePass(op: ReduceOp, x: Tensor, axes: number[], allowChunks: boolean): { out: Tensor; chunks: number } {
  const strides = stridesOf(x.shape);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => x.shape[i]!);
  const redShape = axes.map((i) => x.shape[i]!);
  const nOut = keptShape.reduce((a, b) => a * b, 1);
  const count = redShape.reduce((a, b) => a * b, 1);
  const innerContiguous = axes.every((a, k) => a === x.rank - axes.length + k);
  const chunks = allowChunks && count > 2 * CHUNK && nOut < 16384 ? Math.ceil(count / CHUNK) : 1;
  const chunkLen = Math.ceil(count / chunks);
  const isArg = op === 'argmax' || op === 'argmin';
  const out = emptyTensor([nOut * chunks], isArg ? 'i32' : x.dtype, op);
  const program = reduceProgram(op, x.dtype, keptShape.length, redShape.length, innerContiguous);
  runtime().run(
    {
      program,
      workgroups: grid1d(nOut * chunks, REDUCE_WORKGROUP),
      uniforms: {
        nOut,
        count,
        chunks,
        chunkLen,
        keptShape: padDims(keptShape, keptShape.length),
        keptStride: padDims(kept.map((i) => strides[i]!), keptShape.length),
        redShape: padDims(redShape, redShape.length),
        redStride: padDims(axes.map((i) => strides[i]!), redShape.length),
      },
    },
    [x.buffer(op)],
    [out.buffer()],
  );
  return { out, chunks };
}

function reduce(op: ReduceOp, x: Tensor, axesArg: number | readonly number[] | undefined, options: ReduceOptions): Tensor {
  x.buffer(op);
  const axes = normalizeAxes(op, axesArg, x.rank);
  const keepDims = options.keepDims ?? false;
  const outShape = outShapeOf(x.shape, axes, keepDims);
  if (x.size === 0 && op !== 'sum') {
    throw new Error(`${op}: cannot reduce a zero-size tensor of shape [${x.shape.join(', ')}] (no identity element)`);
  }
  if (axes.some((a) => x.shape[a] === 0) && (op === 'argmax' || op === 'argmin')) {
    throw new Error(`${op}: cannot take ${op} over an empty axis`);
  }
  let { out, chunks } = reducePass(op, x, axes, op !== 'argmax' && op !== 'argmin');
  while (chunks > 1) {
    // Finish chunked reductions: partials are [nOut, chunks], reduce their last axis.
    const partial = viewTensor(out, [out.size / chunks, chunks]);
    out.dispose();
    const next = reducePass(op, partial, [1], true);
    partial.dispose();
    out = next.out;
    chunks = next.chunks;
  }
  const shaped = viewTensor(out, outShape);
  out.dispose();
  return shaped;
}

export function sum(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const out = reduce('sum', x, axes, options);
  return record(out, 'sum', [x], { axes: normalizeAxes('sum', axes, x.rank), keepDims: options.keepDims ?? false });
}

export function mean(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const ax = normalizeAxes('mean', axes, x.rank);
  const count = ax.reduce((a, i) => a * x.shape[i]!, 1);
  if (x.dtype !== 'f32') throw new Error(`mean: expects an f32 tensor, got ${x.dtype}; cast it first`);
  const total = sum(x, ax, options);
  const out = mul(total, 1 / Math.max(count, 1));
  if (!total.requiresGrad) total.dispose();
  return out;
}

export function max(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const out = reduce('max', x, axes, options);
  return record(out, 'max', [x], { axes: normalizeAxes('max', axes, x.rank), keepDims: options.keepDims ?? false });
}

export function min(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const out = reduce('min', x, axes, options);
  return record(out, 'min', [x], { axes: normalizeAxes('min', axes, x.rank), keepDims: options.keepDims ?? false });
}

/** Index (i32) of the largest value along one axis; the first one wins ties. */
export function argmax(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce('argmax', x, [axis], options);
}

export function argmin(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce('argmin', x, [axis], options);
}
