/**
 * 2-D convolution over NCHW tensors with OIHW weights: conv2d and its two adjoints, conv2dBackwardInput and
 * conv2dBackwardFilter, each one register-tiled implicit GEMM on the shared core (kernels/gemm/). Shapes, dtypes
 * and options are checked here before any GPU work; kernels/conv/dispatch.ts plans the tiles and dispatches from
 * the geometry, which travels to the kernels as uniforms.
 */
import { runtime } from '../context.js';
import { defineOp, noGrad } from '../graph.js';
import { fmt, sameShape, type Shape } from '../shape.js';
import { emptyTensor, viewTensor, type Tensor } from '../tensor.js';
import { sum } from './reduce.js';
import { reshape, transpose } from './layout.js';
import { runProgram } from '../run-program.js';
import type { ConvGeometry } from '../../kernels/conv/geometry.js';
import {
  backwardFilterPlan,
  backwardInputDispatches,
  forwardDispatches,
  type ConvDispatch,
  type ConvVariant,
} from '../../kernels/conv/dispatch.js';

export type { ConvVariant } from '../../kernels/conv/dispatch.js';

export type Conv2dPadding = number | readonly [number, number] | 'same' | 'valid';

export interface Conv2dGeometryOptions {
  /** One stride for both axes, or [height, width]. Default 1. */
  stride?: number | readonly [number, number];
  /**
   * Zero padding: one amount for all four sides, [height, width] (each applied on both sides), 'valid' (none),
   * or 'same' (output = ceil(input / stride); when the total padding is odd the extra row/column goes at the
   * bottom/right, as in TensorFlow).
   */
  padding?: Conv2dPadding;
  /** Spacing between kernel taps: one for both axes, or [height, width]. Default 1. */
  dilation?: number | readonly [number, number];
  /** Input and output channels are split into this many independent groups (groups = C: depthwise). Default 1. */
  groups?: number;
}

export interface Conv2dOptions extends Conv2dGeometryOptions {
  /** Added to every output pixel of each output channel: shape [O]. */
  bias?: Tensor;
}

function pair(op: string, what: string, v: number | readonly [number, number], min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || p.some((d) => !Number.isInteger(d) || d < min)) {
    throw new Error(`${op}: ${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** 'same' padding of one axis: the output keeps ceil(size / stride); the top/left side gets the smaller half. */
function samePadding(size: number, kernel: number, stride: number, dilation: number): number {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return Math.floor(total / 2);
}

/** Validate the shapes and options of a convolution of x [N, C, H, W] with w [O, C/groups, KH, KW]. */
export function conv2dGeometry(op: string, xShape: Shape, wShape: Shape, options: Conv2dGeometryOptions): ConvGeometry {
  if (xShape.length !== 4) throw new Error(`${op}: the input must have rank 4 [N, C, H, W], got shape ${fmt(xShape)}`);
  if (wShape.length !== 4) throw new Error(`${op}: the weights must have rank 4 [O, C/groups, KH, KW], got shape ${fmt(wShape)}`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cg, KH, KW] = wShape as [number, number, number, number];
  const groups = options.groups ?? 1;
  const shapes = `input ${fmt(xShape)}, weights ${fmt(wShape)}`;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  if (C < 1 || O < 1 || KH < 1 || KW < 1) throw new Error(`${op}: channels and kernel sizes must be positive (${shapes})`);
  if (C % groups !== 0 || O % groups !== 0) {
    throw new Error(`${op}: groups = ${groups} must divide both the input channels C = ${C} and the output channels O = ${O} (${shapes})`);
  }
  if (Cg * groups !== C) {
    throw new Error(
      `${op}: channel mismatch: the weights take ${Cg} input channels per group, so with groups = ${groups} the input needs C = ${Cg * groups}, got C = ${C} (${shapes})`,
    );
  }
  const [strideH, strideW] = pair(op, 'stride', options.stride ?? 1, 1);
  const [dilationH, dilationW] = pair(op, 'dilation', options.dilation ?? 1, 1);
  const padding = options.padding ?? 0;
  let padTop: number;
  let padLeft: number;
  let padBottom: number;
  let padRight: number;
  if (padding === 'same') {
    padTop = samePadding(H, KH, strideH, dilationH);
    padLeft = samePadding(W, KW, strideW, dilationW);
    const oh = Math.ceil(H / strideH);
    const ow = Math.ceil(W / strideW);
    padBottom = Math.max((oh - 1) * strideH + (KH - 1) * dilationH + 1 - H, 0) - padTop;
    padRight = Math.max((ow - 1) * strideW + (KW - 1) * dilationW + 1 - W, 0) - padLeft;
  } else if (padding === 'valid') {
    padTop = padLeft = padBottom = padRight = 0;
  } else {
    [padTop, padLeft] = pair(op, 'padding', padding, 0);
    [padBottom, padRight] = [padTop, padLeft];
  }
  const spanH = (KH - 1) * dilationH + 1;
  const spanW = (KW - 1) * dilationW + 1;
  const paddedH = H + padTop + padBottom;
  const paddedW = W + padLeft + padRight;
  if (spanH > paddedH || spanW > paddedW) {
    throw new Error(
      `${op}: the kernel spans ${spanH}x${spanW} (with dilation ${dilationH}x${dilationW}), larger than the padded input ${paddedH}x${paddedW} (${shapes})`,
    );
  }
  const OH = Math.floor((paddedH - spanH) / strideH) + 1;
  const OW = Math.floor((paddedW - spanW) / strideW) + 1;
  return { N, C, H, W, O, KH, KW, OH, OW, strideH, strideW, padTop, padLeft, dilationH, dilationW, groups };
}

function checkF32(op: string, what: string, t: Tensor): void {
  t.buffer(op);
  if (t.dtype !== 'f32') throw new Error(`${op}: ${what} must be f32, got ${t.dtype} ${fmt(t.shape)}`);
}

let variant: ConvVariant = 'auto';

/** Force the general walk ('general') or vec4 strips ('vector') wherever they apply, or let each shape and adapter take its fastest ('auto'). */
export function setConvVariant(v: ConvVariant): void {
  variant = v;
}

/**
 * The weights as the dispatches read them: w itself, or packed (see ConvDispatch.weights) by permuting
 * [G, Og, Cg, KH, KW] with `perm`, a copy outside the graph that the caller disposes.
 */
function packedWeights(w: Tensor, geo: ConvGeometry, dispatches: readonly ConvDispatch<unknown>[], perm: readonly number[]): Tensor {
  if (!dispatches.some((d) => d.weights === 'packed')) return w;
  const { groups: G, O, C, KH, KW } = geo;
  return noGrad(() => {
    const grouped = reshape(w, [G, O / G, C / G, KH, KW]);
    const packed = transpose(grouped, perm);
    if (grouped !== w) grouped.dispose();
    return packed;
  });
}

/** y = conv2d(x, w) (+ bias). x [N, C, H, W], w [O, C/groups, KH, KW] -> y [N, O, OH, OW]. */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkF32(op, 'the input', x);
  checkF32(op, 'the weights', w);
  const geo = conv2dGeometry(op, x.shape, w.shape, options);
  const bias = options.bias;
  if (bias) {
    checkF32(op, 'the bias', bias);
    if (!sameShape(bias.shape, [geo.O]))
      throw new Error(`${op}: the bias must have shape [${geo.O}] (one per output channel), got ${fmt(bias.shape)}`);
  }
  const y = emptyTensor([geo.N, geo.O, geo.OH, geo.OW], 'f32', op);
  if (y.size > 0) {
    const dispatches = forwardDispatches(geo, bias !== undefined, variant, runtime().info);
    const weights = packedWeights(w, geo, dispatches, [0, 2, 3, 4, 1]);
    for (const d of dispatches) {
      runProgram(d.program, { ...d, inputs: { input: x, weights, ...(bias ? { bias } : {}) }, outputs: { output: y } });
    }
    if (weights !== w) weights.dispose();
  }
  const { stride, padding, dilation, groups } = options;
  return conv2dOp.record(y, bias ? [x, w, bias] : [x, w], { options: { stride, padding, dilation, groups } }, {});
}

function checkGradShape(op: string, dy: Tensor, geo: ConvGeometry): void {
  const expected = [geo.N, geo.O, geo.OH, geo.OW];
  if (!sameShape(dy.shape, expected))
    throw new Error(`${op}: the output gradient must have the convolution's output shape ${fmt(expected)}, got ${fmt(dy.shape)}`);
}

/** dL/dx of y = conv2d(x, w, options), given dy = dL/dy and x's shape. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, options: Conv2dGeometryOptions = {}): Tensor {
  const op = 'conv2dBackwardInput';
  checkF32(op, 'the output gradient', dy);
  checkF32(op, 'the weights', w);
  const geo = conv2dGeometry(op, xShape, w.shape, options);
  checkGradShape(op, dy, geo);
  const dx = emptyTensor(xShape, 'f32', op);
  if (dx.size > 0) {
    const dispatches = backwardInputDispatches(geo, variant, runtime().info);
    const weights = packedWeights(w, geo, dispatches, [0, 1, 3, 4, 2]);
    for (const d of dispatches) runProgram(d.program, { ...d, inputs: { dy, weights }, outputs: { dx } });
    if (weights !== w) weights.dispose();
  }
  return dx;
}

/** dL/dw of y = conv2d(x, w, options), given x, dy = dL/dy and w's shape. */
export function conv2dBackwardFilter(x: Tensor, dy: Tensor, wShape: Shape, options: Conv2dGeometryOptions = {}): Tensor {
  const op = 'conv2dBackwardFilter';
  checkF32(op, 'the input', x);
  checkF32(op, 'the output gradient', dy);
  const geo = conv2dGeometry(op, x.shape, wShape, options);
  checkGradShape(op, dy, geo);
  const { dispatch, chunks } = backwardFilterPlan(geo, variant, runtime().info);
  const { partial } = runProgram(dispatch.program, { ...dispatch, inputs: { input: x, dy }, outputs: { partial: [chunks, ...wShape] } });
  if (chunks === 1) {
    const dw = viewTensor(partial, wShape);
    partial.dispose();
    return dw;
  }
  const dw = sum(partial, 0);
  partial.dispose();
  return dw;
}

const conv2dOp = defineOp<{ options: Conv2dGeometryOptions }>({
  name: 'conv2d',
  grad: (g, node) => conv2dGrad(g, node.inputs, node.attrs.options),
});

function conv2dGrad(g: Tensor, inputs: readonly Tensor[], options: Conv2dGeometryOptions): (Tensor | null)[] {
  const [x, w, bias] = inputs as [Tensor, Tensor, Tensor | undefined];
  const grads = [
    x.requiresGrad ? conv2dBackwardInput(g, w, x.shape, options) : null,
    w.requiresGrad ? conv2dBackwardFilter(x, g, w.shape, options) : null,
  ];
  if (bias) grads.push(bias.requiresGrad ? sum(g, [0, 2, 3]) : null);
  return grads;
}
