/** Shape and layout ops: reshape (a view), transpose, slice, pad, broadcastTo, concat. */
import { defineOp } from '../graph.js';
import { broadcastShapes, checkShape, fmt, normalizeAxis, sameShape, sizeOf, stridesOf, type Shape } from '../shape.js';
import { emptyTensor, viewTensor, type Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { copyIntoAxisProgram, stridedCopyProgram } from '../../kernels/strided-copy.js';
import { padDims } from '../../kernels/wgsl.js';
import { sumToShape } from './reduce.js';

const reshapeOp = defineOp<{ shape: readonly number[] }>({ name: 'reshape', grad: (g, { attrs }) => [reshape(g, attrs.shape)] });

/** Reshape without copying; one dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  x.buffer('reshape');
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new Error(`reshape: at most one -1 in ${fmt(shape)}`);
  let target = [...shape];
  if (inferred === 1) {
    const rest = sizeOf(known);
    if (rest === 0 || x.size % rest !== 0) throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
    target = shape.map((d) => (d === -1 ? x.size / rest : d));
  }
  checkShape('reshape', target);
  if (sizeOf(target) !== x.size)
    throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)} (${sizeOf(target)} elements)`);
  return reshapeOp.record(viewTensor(x, target), [x], { shape: x.shape }, {});
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  const a = normalizeAxis('flatten', startAxis, x.rank);
  return reshape(x, [...x.shape.slice(0, a), sizeOf(x.shape.slice(a))]);
}

interface StridedView {
  shape: readonly number[];
  base: number;
  off: number[];
  stride: number[];
  lim?: number[];
}

function stridedCopy(op: string, x: Tensor, v: StridedView): Tensor {
  const rank = v.shape.length;
  return runProgram(stridedCopyProgram(op, x.dtype, rank, v.lim !== undefined), {
    inputs: { x },
    outputs: { y: v.shape },
    uniforms: {
      n: sizeOf(v.shape),
      base: v.base,
      shape: padDims(v.shape, rank),
      off: padDims(v.off, rank),
      stride: padDims(v.stride, rank),
      lim: padDims(v.lim ?? [], rank),
    },
  }).y;
}

const transposeOp = defineOp<{ perm: number[] }>({
  name: 'transpose',
  grad: (g, { attrs: { perm } }) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [transpose(g, inverse)];
  },
});

/** Permute axes (default: reverse them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  x.buffer('transpose');
  const p = perm ? perm.map((a) => normalizeAxis('transpose', a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new Error(`transpose: permutation ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of ${fmt(x.shape)}`);
  }
  const strides = stridesOf(x.shape);
  const out = stridedCopy('transpose', x, {
    shape: p.map((a) => x.shape[a]!),
    base: 0,
    off: p.map(() => 0),
    stride: p.map((a) => strides[a]!),
  });
  return transposeOp.record(out, [x], { perm: p }, {});
}

const sliceOp = defineOp<{ begin: number[]; inShape: readonly number[] }>({
  name: 'slice',
  grad: (g, { attrs: { begin, inShape } }) => [
    pad(
      g,
      inShape.map((d, i) => [begin[i]!, d - begin[i]! - g.shape[i]!] as [number, number]),
    ),
  ],
});

/** Slice with begin and size per axis (size -1: to the end). */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  x.buffer('slice');
  if (begin.length !== x.rank || (size && size.length !== x.rank)) {
    throw new Error(
      `slice: begin ${JSON.stringify(begin)} and size ${JSON.stringify(size)} must each have ${x.rank} entries for shape ${fmt(x.shape)}`,
    );
  }
  const sz = x.shape.map((d, i) => (size?.[i] === undefined || size[i] === -1 ? d - begin[i]! : size[i]));
  x.shape.forEach((d, i) => {
    if (!Number.isInteger(begin[i]) || !Number.isInteger(sz[i]) || begin[i]! < 0 || sz[i]! < 0 || begin[i]! + sz[i]! > d) {
      throw new Error(
        `slice: begin ${JSON.stringify(begin)} size ${JSON.stringify(sz)} is out of bounds for shape ${fmt(x.shape)} (axis ${i})`,
      );
    }
  });
  const out = stridedCopy('slice', x, { shape: sz, base: 0, off: [...begin], stride: stridesOf(x.shape) });
  return sliceOp.record(out, [x], { begin: [...begin], inShape: x.shape }, {});
}

const padOp = defineOp<{ pads: readonly (readonly [number, number])[] }>({
  name: 'pad',
  grad: (g, { inputs: [x], attrs: { pads } }) => [
    slice(
      g,
      pads.map(([a]) => a),
      x!.shape,
    ),
  ],
});

/** Zero padding: `pads[i] = [before, after]` for each axis. */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[]): Tensor {
  x.buffer('pad');
  if (pads.length !== x.rank || pads.some(([a, b]) => a < 0 || b < 0 || !Number.isInteger(a) || !Number.isInteger(b))) {
    throw new Error(`pad: expected ${x.rank} pairs of non-negative integers for shape ${fmt(x.shape)}, got ${JSON.stringify(pads)}`);
  }
  const shape = x.shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  const out = stridedCopy('pad', x, { shape, base: 0, off: pads.map(([a]) => -a), stride: stridesOf(x.shape), lim: [...x.shape] });
  return padOp.record(out, [x], { pads }, {});
}

const broadcastToOp = defineOp<{ inShape: readonly number[] }>({
  name: 'broadcastTo',
  grad: (g, { attrs }) => [sumToShape(g, attrs.inShape)],
});

/** Materialise `x` broadcast to `shape`. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  x.buffer('broadcastTo');
  checkShape('broadcastTo', shape);
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(target, shape)) throw new Error(`broadcastTo: ${fmt(x.shape)} cannot be broadcast to ${fmt(shape)}`);
  const rank = shape.length;
  const own = stridesOf(x.shape);
  const stride = shape.map((_, j) => {
    const i = j - (rank - x.rank);
    return i < 0 || x.shape[i] === 1 ? 0 : own[i]!;
  });
  const out = stridedCopy('broadcastTo', x, { shape, base: 0, off: shape.map(() => 0), stride });
  return broadcastToOp.record(out, [x], { inShape: x.shape }, {});
}

const concatOp = defineOp<{ axis: number; sizes: number[] }>({
  name: 'concat',
  grad: (g, { attrs: { axis, sizes } }) => {
    let offset = 0;
    return sizes.map((size) => {
      const begin = g.shape.map((_, i) => (i === axis ? offset : 0));
      const sz = g.shape.map((d, i) => (i === axis ? size : d));
      offset += size;
      return slice(g, begin, sz);
    });
  },
});

/** Join tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor');
  const first = xs[0]!;
  const a = normalizeAxis('concat', axis, first.rank);
  for (const x of xs) {
    x.buffer('concat');
    if (x.dtype !== first.dtype) throw new Error(`concat: dtype mismatch (${first.dtype} vs ${x.dtype})`);
    if (x.rank !== first.rank || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a]!, 0);
  const out = emptyTensor(shape, first.dtype, 'concat');
  const inner = sizeOf(shape.slice(a + 1));
  let offset = 0;
  for (const x of xs) {
    runProgram(copyIntoAxisProgram(x.dtype), {
      inputs: { x },
      outputs: { y: out },
      uniforms: { n: x.size, inner: Math.max(inner, 1), axisIn: x.shape[a]!, axisOut: shape[a], offset },
    });
    offset += x.shape[a]!;
  }
  return concatOp.record(out, xs, { axis: a, sizes: xs.map((x) => x.shape[a]!) }, {});
}

/** Insert a size-1 axis. */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('expandDims', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Remove size-1 axes (all, or the given ones). */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const drop = axes
    ? axes.map((a) => normalizeAxis('squeeze', a, x.rank))
    : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  for (const a of drop) if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of ${fmt(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => !drop.includes(i)),
  );
}
