/** Index-driven ops: gather along an axis, take-along-axis, one-hot. Indices are i32 or u32 tensors. */
import { defineOp } from '../graph.js';
import { fmt, normalizeAxis, sizeOf } from '../shape.js';
import { emptyTensor, viewTensor, type Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { indexReadBackwardProgram, indexReadProgram, oneHotProgram, type IndexMode } from '../../kernels/gather.js';
import { LOOP_BUDGET } from '../../kernels/loop-budget.js';

/**
 * The adjoint of an index read: each dx element loops over the m index positions, in slices of at most
 * LOOP_BUDGET, one dispatch each (every slice adds to the previous ones).
 */
function indexReadBackward(
  mode: IndexMode,
  g: Tensor,
  indices: Tensor,
  dx: Tensor,
  uniforms: { n: number; inner: number; m: number; axisLen: number },
): void {
  const program = indexReadBackwardProgram(mode, indices.dtype);
  for (let jStart = 0; jStart === 0 || jStart < uniforms.m; jStart += LOOP_BUDGET) {
    const jEnd = Math.min(uniforms.m, jStart + LOOP_BUDGET);
    runProgram(program, { inputs: { dy: g, indices }, outputs: { dx }, uniforms: { ...uniforms, jStart, jEnd }, trips: jEnd - jStart });
  }
}

function checkIndices(op: string, indices: Tensor): void {
  indices.buffer(op);
  if (indices.dtype === 'f32') throw new Error(`${op}: indices must be an i32 or u32 tensor, got f32 ${fmt(indices.shape)}`);
}

/** The axis is an attribute; the indices are saved (a view, owned by the node). */
const gatherOp = defineOp<{ axis: number }, { indices: Tensor }>({
  name: 'gather',
  grad: (g, { inputs: [x], attrs: { axis }, saved: { indices } }) => [gatherBackward(g, indices, x!.shape, axis)],
});

const takeAlongAxisOp = defineOp<{ axis: number }, { indices: Tensor }>({
  name: 'takeAlongAxis',
  grad: (g, { inputs: [x], attrs: { axis }, saved: { indices } }) => [takeAlongAxisBackward(g, indices, x!.shape, axis)],
});

/** Select slices of `x` along `axis` (like tf.gather): out shape = x[:axis] + indices.shape + x[axis+1:]. Out-of-range indices give 0. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  x.buffer('gather');
  checkIndices('gather', indices);
  const a = normalizeAxis('gather', axis, x.rank);
  const outShape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  const { y: out } = runProgram(indexReadProgram('axis', x.dtype, indices.dtype), {
    inputs: { x, indices },
    outputs: { y: outShape },
    uniforms: { n: sizeOf(outShape), inner: sizeOf(x.shape.slice(a + 1)), m: indices.size, axisLen: x.shape[a]! },
  });
  return gatherOp.record(out, [x], { axis: a }, { indices: viewTensor(indices, indices.shape) });
}

function gatherBackward(g: Tensor, indices: Tensor, xShape: readonly number[], axis: number): Tensor {
  const dx = emptyTensor(xShape, 'f32', 'gatherBackward');
  const inner = sizeOf(xShape.slice(axis + 1));
  if (dx.size > 0) indexReadBackward('axis', g, indices, dx, { n: dx.size, inner, m: indices.size, axisLen: xShape[axis]! });
  return dx;
}

/** out[..., j, ...] = x[..., indices[..., j, ...], ...] along `axis`; `indices` has x's shape except on `axis`. */
export function takeAlongAxis(x: Tensor, indices: Tensor, axis = -1): Tensor {
  x.buffer('takeAlongAxis');
  checkIndices('takeAlongAxis', indices);
  const a = normalizeAxis('takeAlongAxis', axis, x.rank);
  if (indices.rank !== x.rank || indices.shape.some((d, i) => i !== a && d !== x.shape[i])) {
    throw new Error(`takeAlongAxis: indices ${fmt(indices.shape)} must match x ${fmt(x.shape)} on every axis but ${a}`);
  }
  const { y: out } = runProgram(indexReadProgram('element', x.dtype, indices.dtype), {
    inputs: { x, indices },
    outputs: { y: indices.shape },
    uniforms: { n: indices.size, inner: sizeOf(x.shape.slice(a + 1)), m: indices.shape[a]!, axisLen: x.shape[a]! },
  });
  return takeAlongAxisOp.record(out, [x], { axis: a }, { indices: viewTensor(indices, indices.shape) });
}

function takeAlongAxisBackward(g: Tensor, indices: Tensor, xShape: readonly number[], axis: number): Tensor {
  const dx = emptyTensor(xShape, 'f32', 'takeAlongAxisBackward');
  if (dx.size > 0) {
    const uniforms = { n: dx.size, inner: sizeOf(xShape.slice(axis + 1)), m: indices.shape[axis]!, axisLen: xShape[axis]! };
    indexReadBackward('element', g, indices, dx, uniforms);
  }
  return dx;
}

/** One-hot f32 encoding: shape indices.shape + [depth]. Indices outside [0, depth) give all-`off` rows. */
export function oneHot(indices: Tensor, depth: number, on = 1, off = 0): Tensor {
  checkIndices('oneHot', indices);
  if (!Number.isInteger(depth) || depth <= 0) throw new Error(`oneHot: depth must be a positive integer, got ${depth}`);
  const shape = [...indices.shape, depth];
  return runProgram(oneHotProgram(indices.dtype), {
    inputs: { indices },
    outputs: { y: shape },
    uniforms: { n: sizeOf(shape), depth, on, off },
  }).y;
}
