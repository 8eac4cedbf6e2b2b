/**
 * 2-D convolution over NCHW tensors with OIHW weights: conv2d and its two adjoints, conv2dBackwardInput and
 * conv2dBackwardFilter, each one register-tiled GEMM-style kernel (see kernels/conv/). Shapes, dtypes and
 * options are checked here before any GPU work; the geometry then travels to the kernels as uniforms.
 */
import { defineOp } from '../graph.js';
import { fmt, sameShape, type Shape } from '../shape.js';
import { emptyTensor, viewTensor, type Tensor } from '../tensor.js';
import { sum } from './reduce.js';
import { runProgram } from '../run-program.js';
import { LOOP_BUDGET } from '../../kernels/loop-budget.js';
import { convGeometryUniforms, type ConvGeometry } from '../../kernels/conv/geometry.js';
import { conv2dForwardProgram, MAX_ROW_TAPS } from '../../kernels/conv/forward.js';
import { conv2dBackwardInputProgram } from '../../kernels/conv/backward-input.js';
import { conv2dBackwardFilterProgram } from '../../kernels/conv/backward-filter.js';

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
    throw new Error(`${op}: channel mismatch: the weights take ${Cg} input channels per group, so with groups = ${groups} the input needs C = ${Cg * groups}, got C = ${C} (${shapes})`);
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

/**
 * Register tile sides. Channel sides: the largest of 8, 4, 2, 1 not above the channel count, so small groups
 * (depthwise) waste little. Row sides: 4, 8 or 16 pixels, the smallest that covers short rows. Tiles of 8x8 to
 * 16x8 outputs per thread measured fastest on SwiftShader, where loads cost far more than multiply-adds and
 * bigger tiles load less per multiply-add; beyond that the unrolled kernels spill and compile slowly (SwiftShader
 * takes seconds to compile a 16x8 tile with a 5- or 7-wide strip, so wide kernels get 8-pixel rows).
 */
function channelSide(n: number): number {
  return n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
}

function rowSide(len: number, max: number): number {
  return Math.min(max, len > 8 ? 16 : len > 4 ? 8 : 4);
}

/**
 * How the forward and backward-input kernels walk the reduction: 'auto' takes row strips wherever they apply
 * and the general walk elsewhere; 'general' forces the general walk everywhere (so tests can check it on every
 * shape).
 */
export type ConvVariant = 'auto' | 'general';

let variant: ConvVariant = 'auto';

export function setConvVariant(v: ConvVariant): void {
  variant = v;
}

/** KW when the row-strip walk applies (horizontal stride and dilation 1, a kernel wider than 1), else 0. */
function rowTapsOf(geo: ConvGeometry): number {
  const applies = geo.strideW === 1 && geo.dilationW === 1 && geo.KW >= 2 && geo.KW <= MAX_ROW_TAPS;
  return variant === 'auto' && applies ? geo.KW : 0;
}

/** The longest row side for a walk: 16 pixels for strips of kernels up to 3 wide, else 8. */
function maxRowSide(rowTaps: number): number {
  return rowTaps !== 0 && rowTaps <= 3 ? 16 : 8;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/**
 * Loop iterations per invocation of the forward and backward-input walks over `channels` channels of the
 * reduction: over kh, then kw (unless row strips unroll it), then the channels.
 */
function reductionTrips(geo: ConvGeometry, rowTaps: number, channels: number): number {
  return rowTaps ? geo.KH * (1 + channels) : geo.KH * (1 + geo.KW * (1 + channels));
}

/**
 * Dispatch a forward or backward-input kernel once per slice of the reduction's `channels`, each slice as long
 * as the loop budget allows (one slice for all but very wide groups; each later slice adds to the output).
 */
function runChannelSlices(geo: ConvGeometry, rowTaps: number, channels: number, dispatch: (slice: { kStart: number; kEnd: number }, trips: number) => void): void {
  let longest = channels;
  while (longest > 1 && reductionTrips(geo, rowTaps, longest) > LOOP_BUDGET) longest = Math.ceil(longest / 2);
  const slices = Math.ceil(channels / longest);
  const len = Math.ceil(channels / slices);
  for (let kStart = 0; kStart < channels; kStart += len) {
    const kEnd = Math.min(channels, kStart + len);
    dispatch({ kStart, kEnd }, reductionTrips(geo, rowTaps, kEnd - kStart));
  }
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
    if (!sameShape(bias.shape, [geo.O])) throw new Error(`${op}: the bias must have shape [${geo.O}] (one per output channel), got ${fmt(bias.shape)}`);
  }
  const y = emptyTensor([geo.N, geo.O, geo.OH, geo.OW], 'f32', op);
  if (y.size > 0) {
    const rowTaps = rowTapsOf(geo);
    const tile = { tm: rowTaps ? rowSide(geo.OW, maxRowSide(rowTaps)) : 8, tn: channelSide(geo.O / geo.groups), rowTaps };
    const pixelTiles = rowTaps ? geo.N * geo.OH * ceilDiv(geo.OW, tile.tm) : ceilDiv(geo.N * geo.OH * geo.OW, tile.tm);
    const oTiles = ceilDiv(geo.O / geo.groups, tile.tn);
    const threads = geo.groups * oTiles * pixelTiles;
    const program = conv2dForwardProgram(tile, bias !== undefined);
    runChannelSlices(geo, rowTaps, geo.C / geo.groups, (slice, trips) =>
      runProgram(program, {
        inputs: { input: x, weights: w, ...(bias ? { bias } : {}) },
        outputs: { output: y },
        trips,
        uniforms: { ...convGeometryUniforms(geo), ...slice, threads, pixelTiles, oTiles },
      }),
    );
  }
  const { stride, padding, dilation, groups } = options;
  return conv2dOp.record(y, bias ? [x, w, bias] : [x, w], { options: { stride, padding, dilation, groups } }, {});
}

function checkGradShape(op: string, dy: Tensor, geo: ConvGeometry): void {
  const expected = [geo.N, geo.O, geo.OH, geo.OW];
  if (!sameShape(dy.shape, expected)) throw new Error(`${op}: the output gradient must have the convolution's output shape ${fmt(expected)}, got ${fmt(dy.shape)}`);
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
    const Cg = geo.C / geo.groups;
    const rowTaps = rowTapsOf(geo);
    const tile = { tm: rowSide(ceilDiv(geo.W, geo.strideW), maxRowSide(rowTaps)), tn: channelSide(Cg), rowTaps };
    const colTiles = ceilDiv(ceilDiv(geo.W, geo.strideW), tile.tm);
    const rowsPerResidue = ceilDiv(geo.H, geo.strideH);
    const cTiles = ceilDiv(Cg, tile.tn);
    const threads = geo.groups * cTiles * geo.strideH * geo.strideW * geo.N * rowsPerResidue * colTiles;
    const program = conv2dBackwardInputProgram(tile);
    runChannelSlices(geo, rowTaps, geo.O / geo.groups, (slice, trips) =>
      runProgram(program, {
        inputs: { dy, weights: w },
        outputs: { dx },
        trips,
        uniforms: { ...convGeometryUniforms(geo), ...slice, threads, colTiles, rowsPerResidue, cTiles },
      }),
    );
  }
  return dx;
}

/**
 * The filter gradient's reduction (over N*OH*OW) is split into chunks of whole output rows when there are too
 * few output tiles to keep the device busy; a chunk is never shorter than MIN_CHUNK_STEPS positions.
 */
const TARGET_THREADS = 4096;
const MIN_CHUNK_STEPS = 256;

/** dL/dw of y = conv2d(x, w, options), given x, dy = dL/dy and w's shape. */
export function conv2dBackwardFilter(x: Tensor, dy: Tensor, wShape: Shape, options: Conv2dGeometryOptions = {}): Tensor {
  const op = 'conv2dBackwardFilter';
  checkF32(op, 'the input', x);
  checkF32(op, 'the output gradient', dy);
  const geo = conv2dGeometry(op, x.shape, wShape, options);
  checkGradShape(op, dy, geo);
  const Og = geo.O / geo.groups;
  const entries = (geo.C / geo.groups) * geo.KH * geo.KW;
  const tile = { to: channelSide(Og), te: channelSide(entries) };
  const oTiles = ceilDiv(Og, tile.to);
  const eTiles = ceilDiv(entries, tile.te);
  const tiles = geo.groups * oTiles * eTiles;
  const rows = geo.N * geo.OH;
  const positions = rows * geo.OW;
  const wantedChunks = Math.max(1, Math.min(ceilDiv(TARGET_THREADS, tiles), Math.floor(positions / MIN_CHUNK_STEPS)));
  // Chunks of whole rows, unless that is over the loop budget: a chunk of L positions loops L times inside
  // rows and at most ceil(L / OW) + 1 times over them.
  const maxLen = Math.floor(((LOOP_BUDGET - 2) * geo.OW) / (geo.OW + 1));
  const chunkLen = Math.min(maxLen, Math.max(1, ceilDiv(rows, wantedChunks)) * geo.OW);
  const chunks = Math.max(1, ceilDiv(positions, chunkLen));
  const threads = chunks * tiles;
  const { partial } = runProgram(conv2dBackwardFilterProgram(tile), {
    inputs: { input: x, dy },
    outputs: { partial: [chunks, ...wShape] },
    trips: chunkLen + ceilDiv(chunkLen, geo.OW) + 1,
    uniforms: { ...convGeometryUniforms(geo), threads, eTiles, oTiles, chunkLen },
  });
  if (chunks === 1) {
    const dw = viewTensor(partial, wShape);
    partial.dispose();
    return dw;
  }
  const dw = sum(partial, 0);
  partial.dispose();
  return dw;
}

const conv2dOp = defineOp<{ options: Conv2dGeometryOptions }>({ name: 'conv2d', grad: (g, node) => conv2dGrad(g, node.inputs, node.attrs.options) });

function conv2dGrad(g: Tensor, inputs: readonly Tensor[], options: Conv2dGeometryOptions): (Tensor | null)[] {
  const [x, w, bias] = inputs as [Tensor, Tensor, Tensor | undefined];
  const grads = [
    x.requiresGrad ? conv2dBackwardInput(g, w, x.shape, options) : null,
    w.requiresGrad ? conv2dBackwardFilter(x, g, w.shape, options) : null,
  ];
  if (bias) grads.push(bias.requiresGrad ? sum(g, [0, 2, 3]) : null);
  return grads;
}
