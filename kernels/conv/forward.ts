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
import { range, registerBlock, unroll } from '../gemm/register-block.js';
import { stripLoopWgsl, stripWgsl } from './strip.js';
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
  /**
   * Row strips only: output rows per tile (R). With R > 1 (vertical stride and dilation 1) the tile is R rows of tm
   * pixels, and the kernel's KH (`blockTaps`, compiled in) taps are unrolled too: per input channel the R + KH - 1
   * input rows the tile touches are each loaded once, as strips, and serve every (row, kh) pair: for short rows
   * (8 or 4 pixels) this loads far less per multiply-add than one strip per (kh, channel) for a one-row tile.
   */
  blockRows: number;
  /** KH when blockRows > 1, else 0 (the kh loop runs at run time). */
  blockTaps: number;
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
  const R = rowTaps !== 0 ? tile.blockRows : 1;
  const KH = tile.blockTaps;
  // Pixel p of the tile is row p / tm, column p % tm.
  const J = (f: (p: number) => string, sep?: string) => unroll(R * tm, f, sep);
  const I = (f: (i: number) => string, sep?: string) => unroll(tn, f, sep);
  // The block: rows are the tile's pixels (p), columns its output channels (i).
  const block = registerBlock(R * tm, tn);
  // The strips: for one-row tiles (R = 1) strip 0 is input row oh0 * sh - ph + kh * dh, one per kh (run-time loop);
  // for R > 1 strip r is input row oh0 - ph + r (r < R + KH - 1), and output row r's tap kh reads strip r + kh.
  const strips = range(R > 1 ? R + KH - 1 : rowTaps ? 1 : 0).map((r) =>
    stripWgsl(
      tm + rowTaps - 1,
      `xb + y${r} * u.W + ow0 - u.pw`,
      (p) => `rowOk${r} && u32(ow0 - u.pw + ${p}) < u32(u.W)`,
      'HW',
      'input',
      vectorStrip ? tile.stripShift : null,
      `s${r}`,
    ),
  );
  // Taps t of the strip loop: kw (R = 1) or kh * KW + kw (R > 1); pixel p = r * tm + j reads position j + kw.
  const tapsPerLoop = R > 1 ? KH * rowTaps : rowTaps;
  const stripLoop = stripLoopWgsl({
    channel: 'c',
    strips,
    taps: tapsPerLoop,
    weights: (t) => (packed ? packedWeightsWgsl(tn, `pq + ${t} * OG4`) : I((i) => `let b${i} = weights[pw${i} + ${t}];`)),
    source: (t, p) => `s${Math.floor(p / tm) + Math.floor(t / rowTaps)}a${(p % tm) + (t % rowTaps)}`,
    advanceWeights: packed ? 'pq = pq + KHW * OG4;' : I((i) => `pw${i} = pw${i} + KHW;`),
    block,
  });
  const startWeights = (kh: string) => (packed ? `var pq = wq0 + ${kh} * OG4;` : I((i) => `var pw${i} = wb${i} + ${kh};`));
  const startStrips = strips.map((st, r) => `let rowOk${r} = u32(y${r}) < u32(u.H);\n    ${st.start}`).join('\n    ');

  // Per pixel p of the tile: n{p} (image), s{p} (offset in the output plane), valid{p} (inside the output).
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
  let rowTiles = ${R === 1 ? 'u.OH' : `(u.OH + ${R - 1}) / ${R}`};
  let ow0 = (pt % colTiles) * ${tm};
  let oh0 = ((pt / colTiles) % rowTiles) * ${R};
  let n = pt / (colTiles * rowTiles);
  let xb = (n * u.C + g * u.Cg + u.kStart) * HW;
  ${J(
    (p) => `let valid${p} = ow0 + ${p % tm} < u.OW${R === 1 ? '' : ` && oh0 + ${Math.floor(p / tm)} < u.OH`};
  let n${p} = n;
  let s${p} = (oh0 + ${Math.floor(p / tm)}) * u.OW + ow0 + ${p % tm};`,
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
      : R > 1
        ? `${range(strips.length)
            .map((r) => `let y${r} = oh0 - u.ph + ${r};`)
            .join('\n  ')}
    ${startStrips}
    ${startWeights('0')}
    ${stripLoop}`
        : `for (var kh = 0; kh < u.KH; kh = kh + 1) {
    // Strip position p reads input column ow0 - pw + p; pixel j's tap kw is position j + kw.
    let y0 = oh0 * u.sh - u.ph + kh * u.dh;
    ${startStrips}
    ${startWeights(`kh * ${rowTaps}`)}
    ${stripLoop}
  }`;

  return kernel({
    name: 'conv2d',
    key: `conv2d|fwd|reg|${tm}x${tn}|${rowTaps === 0 ? 'general' : R > 1 ? `block${R}x${KH}x${rowTaps}` : `rows${rowTaps}`}|${vectorStrip ? `vec${tile.stripShift}` : 'scalar'}|${packed ? 'w4' : 'w1'}|${hasBias ? 'bias' : 'nobias'}`,
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
