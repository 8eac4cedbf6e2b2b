/**
 * conv2d and its two adjoints in float64, written from the definitions (NCHW input, OIHW weights, stride,
 * padding with TF's 'same', dilation, groups): the independent reference the conv tests compare against.
 */
import { size } from './arrays.js';

/** A convolution's geometry: input [N, C, H, W], weights [O, C / groups, KH, KW] and the options. */
export interface ConvGeometry {
  x: readonly [number, number, number, number];
  w: readonly [number, number, number, number];
  stride?: readonly [number, number];
  padding?: readonly [number, number] | 'same' | 'valid';
  dilation?: readonly [number, number];
  groups?: number;
}

/** Output size and top/left padding of one axis (TF's 'same': out = ceil(in / stride)). */
function axis(size: number, k: number, s: number, d: number, padding: ConvGeometry['padding'], a: 0 | 1): { out: number; before: number } {
  const span = (k - 1) * d + 1;
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + span - size);
    return { out, before: Math.floor(total / 2) };
  }
  const p = padding === undefined || padding === 'valid' ? 0 : padding[a];
  return { out: Math.floor((size + 2 * p - span) / s) + 1, before: p };
}

/** The output shape [N, O, OH, OW]. */
export function convOutShape(c: ConvGeometry): [number, number, number, number] {
  const { out: OH } = axis(c.x[2], c.w[2], c.stride?.[0] ?? 1, c.dilation?.[0] ?? 1, c.padding, 0);
  const { out: OW } = axis(c.x[3], c.w[3], c.stride?.[1] ?? 1, c.dilation?.[1] ?? 1, c.padding, 1);
  return [c.x[0], c.w[0], OH, OW];
}

/** The convolution as index bookkeeping shared by the three references: calls visit(xi, wi, yi) for each term. */
function forEachTerm(c: ConvGeometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const [N, C, H, W] = c.x;
  const [O, Cg, KH, KW] = c.w;
  const [sh, sw] = c.stride ?? [1, 1];
  const [dh, dw] = c.dilation ?? [1, 1];
  const G = c.groups ?? 1;
  const Og = O / G;
  const { out: OH, before: ph } = axis(H, KH, sh, dh, c.padding, 0);
  const { out: OW, before: pw } = axis(W, KW, sw, dw, c.padding, 1);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let ci = 0; ci < Cg; ci++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * sh - ph + kh * dh;
                const iw = ow * sw - pw + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const cIn = Math.floor(o / Og) * Cg + ci;
                visit(((n * C + cIn) * H + ih) * W + iw, ((o * Cg + ci) * KH + kh) * KW + kw, ((n * O + o) * OH + oh) * OW + ow);
              }
}

/** y = conv2d(x, w) + bias[o]. */
export function convForwardRef(c: ConvGeometry, x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null): Float64Array {
  const [, O, OH, OW] = convOutShape(c);
  const y = new Float64Array(size(convOutShape(c)));
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (OH * OW)) % O]!;
  forEachTerm(c, (xi, wi, yi) => (y[yi]! += x[xi]! * w[wi]!));
  return y;
}

/** dx: the adjoint of the convolution in x, applied to dy. */
export function convBackwardInputRef(c: ConvGeometry, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(size(c.x));
  forEachTerm(c, (xi, wi, yi) => (dx[xi]! += dy[yi]! * w[wi]!));
  return dx;
}

/** dw: the adjoint of the convolution in w, applied to dy. */
export function convBackwardFilterRef(c: ConvGeometry, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(size(c.w));
  forEachTerm(c, (xi, wi, yi) => (dw[wi]! += dy[yi]! * x[xi]!));
  return dw;
}
