/** Max and average 2-D pooling (NCHW) with their gradients, and global average pooling. */
import { defineOp } from '../graph.js';
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { poolBackwardProgram, poolForwardProgram, poolTrips, windowsTile, type PoolGeometry, type PoolKind } from '../../kernels/pool.js';
import { mean } from './reduce.js';

export interface Pool2dOptions {
  kernelSize: number | readonly [number, number];
  /** Default: the kernel size. */
  stride?: number | readonly [number, number];
  /** Zero padding on each side (padded cells never win a max and count in an average's divisor). */
  padding?: number | readonly [number, number];
}

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function geometry(op: string, x: Tensor, o: Pool2dOptions): { g: PoolGeometry; outShape: number[] } {
  if (x.rank !== 4) throw new Error(`${op}: expects an NCHW tensor of rank 4, got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`${op}: expects f32, got ${x.dtype}`);
  const [kh, kw] = pair(o.kernelSize);
  const [sh, sw] = pair(o.stride ?? o.kernelSize);
  const [ph, pw] = pair(o.padding ?? 0);
  for (const [name, v, min] of [
    ['kernel', kh, 1],
    ['kernel', kw, 1],
    ['stride', sh, 1],
    ['stride', sw, 1],
    ['padding', ph, 0],
    ['padding', pw, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${op}: ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (ph * 2 > kh || pw * 2 > kw) throw new Error(`${op}: padding (${ph}, ${pw}) must be at most half the kernel (${kh}, ${kw})`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const oh = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const ow = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (oh < 1 || ow < 1)
    throw new Error(`${op}: a ${kh}x${kw} window does not fit the ${H}x${W} input (padding ${ph}, ${pw}) of ${fmt(x.shape)}`);
  return { g: { n: N * C * oh * ow, h: H, w: W, oh, ow, kh, kw, sh, sw, ph, pw }, outShape: [N, C, oh, ow] };
}

/** Max pooling saves the index of each window's maximum; average pooling needs only the geometry. */
const maxPoolOp = defineOp<{ g: PoolGeometry }, { argmax: Tensor | null }>({
  name: 'maxPool2d',
  grad: (dy, { inputs: [x], attrs: { g }, saved: { argmax } }) => [backward('max', dy, x!, g, argmax)],
});
const avgPoolOp = defineOp<{ g: PoolGeometry }, { argmax: Tensor | null }>({
  name: 'avgPool2d',
  grad: (dy, { inputs: [x], attrs: { g } }) => [backward('avg', dy, x!, g, null)],
});

function forward(kind: PoolKind, x: Tensor, o: Pool2dOptions): Tensor {
  const op = `${kind}Pool2d`;
  x.buffer(op);
  const { g, outShape } = geometry(op, x, o);
  const { y: out, argmax = null } = runProgram(poolForwardProgram(kind), {
    inputs: { x },
    outputs: { y: outShape, ...(kind === 'max' ? { argmax: outShape } : {}) },
    uniforms: { ...g },
    trips: poolTrips(g, false),
  });
  // The argmax belongs to the node (freed with it), or is freed at once when nothing is recorded.
  return (kind === 'max' ? maxPoolOp : avgPoolOp).record(out, [x], { g }, { argmax });
}

export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  return forward('max', x, options);
}

export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  return forward('avg', x, options);
}

/** Mean over H and W: [N, C, H, W] -> [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`globalAvgPool: expects an NCHW tensor of rank 4, got ${fmt(x.shape)}`);
  return mean(x, [2, 3]);
}

/** One invocation per window where the windows tile the input, else one per input pixel (see kernels/pool.ts). */
function backward(kind: PoolKind, dy: Tensor, x: Tensor, g: PoolGeometry, argmax: Tensor | null): Tensor {
  const tiling = windowsTile(g);
  return runProgram(poolBackwardProgram(kind, tiling), {
    inputs: { dy, ...(argmax ? { argmax } : {}) },
    outputs: { dx: x.shape },
    uniforms: { ...g, n: tiling ? g.n : x.size },
    trips: poolTrips(g, true),
  }).dx;
}
