/**
 * conv2d forward as an implicit GEMM: out[m, o] = sum_k patch[m, k] * w[o, k] with M = N*OH*OW output pixels,
 * one GEMM per group over its O/groups output channels, and K = C/groups*KH*KW. The patch matrix (im2col) is
 * never materialised: each thread reads its pixels' taps straight from x, padding reading zero.
 *
 * Register tiling, no barriers: one thread owns a tile of TM pixels x TN output channels held in unrolled
 * scalars. Adjacent threads take adjacent pixel tiles of the same channel tile, so they read neighbouring x and
 * the same weights. Two ways to walk the reduction, chosen by `rowTaps`:
 * - general (rowTaps 0): the tile's pixels are any TM consecutive output pixels (rows and images may change
 *   inside a tile, so no pixel is wasted); the loop runs over taps (kh, kw), then channels, so a tap's bounds
 *   test is paid once per tap, not once per multiply-add. Any stride, dilation and kernel size.
 * - row strips (rowTaps = KW, for horizontal stride 1 and dilation 1): the tile's pixels are TM consecutive
 *   pixels of one output row, so for each (kh, c) their KW taps read one strip of TM + KW - 1 inputs, loaded
 *   once and reused by every kw (unrolled; KW is compiled in). Loads dominate on software adapters, and this
 *   cuts the input loads per multiply-add by about KW.
 */
import { kernel } from '../program.js';
import { registerBlock, unroll } from '../gemm/register-block.js';
import { stripWgsl } from './strip.js';
import {
  CHANNEL_SLICE_UNIFORMS,
  CONV_GEOMETRY_UNIFORMS,
  channelLoopWgsl,
  convGrid,
  convMainWgsl,
  decodeThreadWgsl,
  packedWeightsWgsl,
  sliceStoreWgsl,
} from './geometry.js';

export const CONV_WORKGROUP = 64;

/** Kernel widths the row-strip walk is compiled for (a strip of TM + KW - 1 registers). */
export const MAX_ROW_TAPS = 7;

export interface ForwardTile {
  /** Output pixels per thread. */
  tm: number;
  /** Output channels per thread. */
  tn: number;
  /** KW for the row-strip walk (stride 1 and dilation 1 along W), or 0 for the general walk. */
  rowTaps: number;
  /** Row strips read as vec4s (see strip.ts): pw % 4, with W and tm multiples of 4; null for scalar loads. */
  stripShift: number | null;
  /**
   * Row strips only: weights packed as [G, Cg, KH, KW, Og] and read as vec4s over the tile's channels (tn and Og
   * multiples of 4; see packedWeightsWgsl); false for the OIHW weights, one scalar load per channel and tap.
   */
  packedWeights: boolean;
}

/**
 * Threads: groups * ceil(Og / tn) * pixelTiles, where pixelTiles = ceil(N*OH*OW / tm) for the general walk and
 * N*OH*ceil(OW / tm) for row strips. Inputs `input` (x), `weights` (and `bias` when `hasBias`); output `output` (y). The input channels of a
 * group may run as several dispatches of [kStart, kEnd) (see CHANNEL_SLICE_UNIFORMS).
 */
export function conv2dForwardProgram(tile: ForwardTile, hasBias: boolean) {
  const { tm, tn, rowTaps } = tile;
  const vectorStrip = rowTaps !== 0 && tile.stripShift !== null;
  const packed = rowTaps !== 0 && tile.packedWeights;
  const J = (f: (j: number) => string, sep?: string) => unroll(tm, f, sep);
  const I = (f: (i: number) => string, sep?: string) => unroll(tn, f, sep);
  // The block: rows are the tile's pixels (j), columns its output channels (i).
  const block = registerBlock(tm, tn);
  const accumulate = (a: (j: number) => string) => block.step(a, (i) => `b${i}`, '\n        ');
  const strip = stripWgsl(
    tm + rowTaps - 1,
    'xb + y * u.W + ow0 - u.pw',
    (p) => `rowOk && u32(ow0 - u.pw + ${p}) < u32(u.W)`,
    'HW',
    'input',
    vectorStrip ? tile.stripShift : null,
  );

  // Per pixel j of the tile: n{j} (image), s{j} (offset in the output plane), valid{j} (inside the output).
  const pixels =
    rowTaps === 0
      ? `let M = u.N * OHW;
  ${J(
    (j) => `let m${j} = pt * ${tm} + ${j};
  let valid${j} = m${j} < M;
  let n${j} = min(m${j}, M - 1) / OHW;
  let s${j} = min(m${j}, M - 1) % OHW;
  let ih${j} = (s${j} / u.OW) * u.sh - u.ph;
  let iw${j} = (s${j} % u.OW) * u.sw - u.pw;
  let xb${j} = (n${j} * u.C + g * u.Cg + u.kStart) * HW;`,
  )}`
      : `let colTiles = (u.OW + ${tm - 1}) / ${tm};
  let ow0 = (pt % colTiles) * ${tm};
  let oh = (pt / colTiles) % u.OH;
  let n = pt / (colTiles * u.OH);
  let xb = (n * u.C + g * u.Cg + u.kStart) * HW;
  ${J(
    (j) => `let valid${j} = ow0 + ${j} < u.OW;
  let n${j} = n;
  let s${j} = oh * u.OW + ow0 + ${j};`,
  )}`;

  const reduction =
    rowTaps === 0
      ? `for (var kh = 0; kh < u.KH; kh = kh + 1) {
    ${J((j) => `let y${j} = ih${j} + kh * u.dh;`)}
    for (var kw = 0; kw < u.KW; kw = kw + 1) {
      ${J(
        (j) => `let x${j} = iw${j} + kw * u.dw;
      let ok${j} = u32(y${j}) < u32(u.H) && u32(x${j}) < u32(u.W);
      var px${j} = select(0, xb${j} + y${j} * u.W + x${j}, ok${j});`,
      )}
      ${I((i) => `var pw${i} = wb${i} + kh * u.KW + kw;`)}
      ${channelLoopWgsl({ channel: 'c', pixels: 'input', index: 'px', pixelStep: 'HW', weightStep: 'KHW', block })}
    }
  }`
      : `for (var kh = 0; kh < u.KH; kh = kh + 1) {
    let y = oh * u.sh - u.ph + kh * u.dh;
    let rowOk = u32(y) < u32(u.H);
    // Strip position p reads input column ow0 - pw + p; pixel j's tap kw is position j + kw.
    ${strip.start}
    ${packed ? `var pq = wq0 + kh * ${rowTaps} * OG4;` : I((i) => `var pw${i} = wb${i} + kh * ${rowTaps};`)}
    for (var c = u.kStart; c < u.kEnd; c = c + 1) {
      ${strip.load}
      ${strip.advance}
      ${unroll(
        rowTaps,
        (kw) => `{
        ${packed ? packedWeightsWgsl(tn, `pq + ${kw} * OG4`) : I((i) => `let b${i} = weights[pw${i} + ${kw}];`)}
        ${accumulate((j) => `a${j + kw}`)}
      }`,
      )}
      ${packed ? 'pq = pq + KHW * OG4;' : I((i) => `pw${i} = pw${i} + KHW;`)}
    }
  }`;

  return kernel({
    name: 'conv2d',
    key: `conv2d|fwd|reg|${tm}x${tn}|${rowTaps === 0 ? 'general' : `rows${rowTaps}`}|${vectorStrip ? `vec${tile.stripShift}` : 'scalar'}|${packed ? 'w4' : 'w1'}|${hasBias ? 'bias' : 'nobias'}`,
    workgroupSize: [CONV_WORKGROUP],
    uniforms: [
      ...CONV_GEOMETRY_UNIFORMS,
      ...CHANNEL_SLICE_UNIFORMS,
      { name: 'threads', type: 'i32' },
      { name: 'pixelTiles', type: 'i32' },
      { name: 'oTiles', type: 'i32' },
    ],
    inputs: { input: vectorStrip ? 'vec4<f32>' : 'f32', weights: packed ? 'vec4<f32>' : 'f32', ...(hasBias ? { bias: 'f32' } : {}) },
    outputs: { output: 'f32' },
    grid: convGrid(CONV_WORKGROUP),
    body: () => `${convMainWgsl(CONV_WORKGROUP)}
  ${decodeThreadWgsl(
    [
      ['pt', 'u.pixelTiles'],
      ['o0', 'u.oTiles', tn],
    ],
    'g',
  )}
  let OHW = u.OH * u.OW;
  let HW = u.H * u.W;
  let KHW = u.KH * u.KW;
  ${pixels}
  ${
    packed
      ? `// The quad of packed weights [g, kStart, 0, 0, o0]; a tile running past the group's end reads the next tap's (not stored).
  let OG4 = u.Og / 4;
  let wq0 = (g * u.Cg + u.kStart) * KHW * OG4 + o0 / 4;`
      : `// Weight rows of the tile's channels (a channel past the group's end repeats the last one; it is not stored).
  ${I((i) => `let wb${i} = ((g * u.Og + min(o0 + ${i}, u.Og - 1)) * u.Cg + u.kStart) * KHW;`)}`
  }
  ${block.declare()}
  ${reduction}
  ${block.write(
    (j, i, acc) => `if (valid${j} && o0 + ${i} < u.Og) {
    let o = g * u.Og + o0 + ${i};
    ${sliceStoreWgsl('output', `(n${j} * u.O + o) * OHW + s${j}`, acc, 'u.Cg', hasBias ? 'bias[o]' : '')}
  }`,
  )}
}`,
  });
}
