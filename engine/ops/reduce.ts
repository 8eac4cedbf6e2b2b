/** Reductions over any axes, with keepdims: sum, mean, max, min, argmax, argmin. */
import { defineOp, type GradNode } from '../graph.js';
import { normalizeAxes, sameShape, stridesOf, type Shape } from '../shape.js';
import { viewTensor, type Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { isArgReduce, reduceProgram, type ReduceOp } from '../../kernels/reduce.js';
import { padDims } from '../../kernels/wgsl.js';
import { equal, mul, runMap } from './elementwise.js';
import { broadcastTo, reshape } from './layout.js';

export interface ReduceOptions {
  keepDims?: boolean;
}

/** Reductions longer than 2 * CHUNK are split into chunks of CHUNK, finished by further passes. */
const CHUNK = 1024;
/**
 * Unchunked reductions are allowed up to this length when there are many outputs (enough parallelism, and
 * no partials to allocate); past it every reduction is chunked, so one invocation stays within the loop budget.
 */
const MAX_UNCHUNKED = 8192;

function outShapeOf(shape: Shape, axes: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** One reduction pass's result: flat [nOut * chunks] values (and, for arg reductions, their indices). */
interface Pass {
  out: Tensor;
  index: Tensor | null;
  chunks: number;
}

/** One reduction pass over `x` (with `index` holding the indices of x's elements in later arg passes). */
function reducePass(op: ReduceOp, x: Tensor, axes: number[], index: Tensor | null): Pass {
  const strides = stridesOf(x.shape);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => x.shape[i]!);
  const redShape = axes.map((i) => x.shape[i]!);
  const nOut = keptShape.reduce((a, b) => a * b, 1);
  const count = redShape.reduce((a, b) => a * b, 1);
  const innerContiguous = axes.every((a, k) => a === x.rank - axes.length + k);
  const chunks = count > 2 * CHUNK && (nOut < 16384 || count > MAX_UNCHUNKED) ? Math.ceil(count / CHUNK) : 1;
  const chunkLen = Math.ceil(count / chunks);
  const program = reduceProgram(op, x.dtype, keptShape.length, redShape.length, innerContiguous, index !== null);
  const { values, indices = null } = runProgram(program, {
    inputs: { x, ...(index ? { index } : {}) },
    outputs: { values: [nOut * chunks], ...(isArgReduce(op) ? { indices: [nOut * chunks] } : {}) },
    trips: chunkLen,
    uniforms: {
      nOut,
      count,
      chunks,
      chunkLen,
      keptShape: padDims(keptShape, keptShape.length),
      keptStride: padDims(
        kept.map((i) => strides[i]!),
        keptShape.length,
      ),
      redShape: padDims(redShape, redShape.length),
      redStride: padDims(
        axes.map((i) => strides[i]!),
        redShape.length,
      ),
    },
  });
  return { out: values, index: indices, chunks };
}

/** A flat pass result seen as [outputs, chunks], for the next pass over its last axis. */
function partials(t: Tensor, chunks: number): Tensor {
  const view = viewTensor(t, [t.size / chunks, chunks]);
  t.dispose();
  return view;
}

function reduce(op: ReduceOp, x: Tensor, axesArg: number | readonly number[] | undefined, options: ReduceOptions): Tensor {
  x.buffer(op);
  const axes = normalizeAxes(op, axesArg, x.rank);
  const keepDims = options.keepDims ?? false;
  const outShape = outShapeOf(x.shape, axes, keepDims);
  if (x.size === 0 && op !== 'sum') {
    throw new Error(`${op}: cannot reduce a zero-size tensor of shape [${x.shape.join(', ')}] (no identity element)`);
  }
  if (axes.some((a) => x.shape[a] === 0) && isArgReduce(op)) {
    throw new Error(`${op}: cannot take ${op} over an empty axis`);
  }
  let pass = reducePass(op, x, axes, null);
  while (pass.chunks > 1) {
    // Finish chunked reductions: partials are [nOut, chunks], reduce their last axis.
    const values = partials(pass.out, pass.chunks);
    const index = pass.index && partials(pass.index, pass.chunks);
    const next = reducePass(op, values, [1], index);
    values.dispose();
    index?.dispose();
    pass = next;
  }
  const result = pass.index ?? pass.out;
  if (pass.index) pass.out.dispose();
  const shaped = viewTensor(result, outShape);
  result.dispose();
  return shaped;
}

/** The reduced axes (normalised) and whether they were kept as size-1 dims. */
interface ReduceAttrs {
  axes: number[];
  keepDims: boolean;
}

/** dL/d(out) spread back over the reduced axes of x. */
function expandReduced(g: Tensor, { inputs: [x], attrs: { axes, keepDims } }: GradNode<ReduceAttrs>): Tensor {
  const kept = keepDims
    ? g
    : reshape(
        g,
        x!.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
      );
  return broadcastTo(kept, x!.shape);
}

/** Sum a broadcast gradient back to the operand's shape. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = sum(g, axes, { keepDims: true });
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

const sumOp = defineOp<ReduceAttrs>({ name: 'sum', grad: (g, node) => [expandReduced(g, node)] });
const meanOp = defineOp<ReduceAttrs & { count: number }>({
  name: 'mean',
  grad: (g, node) => [mul(expandReduced(g, node), 1 / node.attrs.count)],
});

/** Every position equal to the extreme receives the gradient (ties share it, as in TF.js). */
function extremeOp(name: 'max' | 'min') {
  return defineOp<ReduceAttrs>({
    name,
    grad: (g, node, out) => {
      const x = node.inputs[0]!;
      const { axes, keepDims } = node.attrs;
      const outKept = keepDims
        ? out
        : reshape(
            out,
            x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
          );
      return [mul(expandReduced(g, node), equal(x, outKept))];
    },
  });
}
const maxOp = extremeOp('max');
const minOp = extremeOp('min');

function attrsOf(op: string, x: Tensor, axes: number | readonly number[] | undefined, options: ReduceOptions): ReduceAttrs {
  return { axes: normalizeAxes(op, axes, x.rank), keepDims: options.keepDims ?? false };
}

export function sum(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  return sumOp.record(reduce('sum', x, axes, options), [x], attrsOf('sum', x, axes, options), {});
}

export function mean(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const attrs = attrsOf('mean', x, axes, options);
  const count = attrs.axes.reduce((a, i) => a * x.shape[i]!, 1);
  if (x.dtype !== 'f32') throw new Error(`mean: expects an f32 tensor, got ${x.dtype}; cast it first`);
  const total = reduce('sum', x, axes, options);
  // The mean of nothing is NaN, as in PyTorch (the sum over an empty axis is 0).
  const out = runMap({ op: 'mean', expr: 'v0 * v1', operands: [total, count === 0 ? NaN : 1 / count] });
  total.dispose();
  return meanOp.record(out, [x], { ...attrs, count }, {});
}

export function max(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  return maxOp.record(reduce('max', x, axes, options), [x], attrsOf('max', x, axes, options), {});
}

export function min(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  return minOp.record(reduce('min', x, axes, options), [x], attrsOf('min', x, axes, options), {});
}

/** Index (i32) of the largest value along one axis; the first one wins ties. */
export function argmax(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce('argmax', x, [axis], options);
}

export function argmin(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce('argmin', x, [axis], options);
}
