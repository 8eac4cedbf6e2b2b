/**
 * conv2d gradient w.r.t. the input, as a gather (no scatter, no atomics, deterministic):
 *   dx[n, c, ih, iw] = sum over o in c's group, and over taps (kh, kw) that land on a whole output position
 *   oh = (ih + ph - kh*dh) / sh, ow = (iw + pw - kw*dw) / sw inside the output, of dy[n, o, oh, ow] * w[o, c, kh, kw].
 * A GEMM per group with M = input pixels, N = C/groups input channels, K = O/groups * (valid taps).
 *
 * Register tiling, no barriers: one thread owns TM input pixels x TN input channels. Its pixels lie on one
 * row, sw apart (iw = rw + (b + j) * sw), so they share the residue of iw mod sw: a tap is valid or not for the
 * whole tile, only the taps that reach a whole output position are visited (1/(sh*sw) of them), and the dy
 * values the tile reads for one tap are consecutive (ow = q + j). Threads are ordered with the residue class
 * (rh, rw) slower than the pixels, so neighbouring threads take the same branches.
 * With horizontal stride 1 and dilation 1 (`rowTaps` = KW, compiled in), the kw taps are unrolled instead: for
 * each (kh, o) the tile's pixels read one strip of TM + KW - 1 dy values, loaded once and reused by every kw,
 * as in the forward's row-strip walk.
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
import { CONV_WORKGROUP } from './forward.js';

export interface BackwardInputTile {
  /** Input pixels per thread (along a row, stride-width apart). */
  tm: number;
  /** Input channels per thread. */
  tn: number;
  /** KW for the row-strip walk (stride 1 and dilation 1 along W), or 0 for the general walk. */
  rowTaps: number;
  /** Row strips read as vec4s (see strip.ts): (KW - 1 - pw) mod 4, with OW and tm multiples of 4; null for scalar loads. */
  stripShift: number | null;
  /**
   * Row strips only: weights packed as [G, Og, KH, KW, Cg] and read as vec4s over the tile's channels (tn and Cg
   * multiples of 4; see packedWeightsWgsl); false for the OIHW weights, one scalar load per channel and tap.
   */
  packedWeights: boolean;
  /**
   * Row strips only: input rows per tile (R; see ForwardTile.blockRows). With R > 1 (vertical stride and dilation
   * 1) the KH taps (`blockTaps`, compiled in) are unrolled, and each of the R + KH - 1 dy rows the tile reads is
   * loaded once per output channel.
   */
  blockRows: number;
  /** KH when blockRows > 1, else 0. */
  blockTaps: number;
}

/**
 * Threads: groups * cTiles * sh * sw * N * rowsPerResidue * colTiles, where rowsPerResidue = ceil(H / sh),
 * colTiles = ceil(ceil(W / sw) / tm), cTiles = ceil(Cg / tn). Inputs `dy`, `weights`; output `dx`. The output channels of a
 * group may run as several dispatches of [kStart, kEnd) (see CHANNEL_SLICE_UNIFORMS).
 */
export function conv2dBackwardInputProgram(tile: BackwardInputTile) {
  const { tm, tn, rowTaps } = tile;
  const R = rowTaps !== 0 ? tile.blockRows : 1;
  const KH = tile.blockTaps;
  const J = (f: (j: number) => string, sep?: string) => unroll(tm, f, sep);
  const I = (f: (i: number) => string, sep?: string) => unroll(tn, f, sep);
  // The block: rows are the tile's input pixels (p = r * tm + j: row r, column j), columns its input channels (i).
  const block = registerBlock(R * tm, tn);
  const vectorStrip = rowTaps !== 0 && tile.stripShift !== null;
  const packed = rowTaps !== 0 && tile.packedWeights;
  // The strips: for one-row tiles strip 0 is dy row oh (one per valid kh, run-time loop); for R > 1 strip r is dy
  // row ih + ph - (KH - 1) + r (r < R + KH - 1), and input row r's tap kh reads strip r + KH - 1 - kh.
  const strips = range(R > 1 ? R + KH - 1 : rowTaps ? 1 : 0).map((r) =>
    stripWgsl(
      tm + rowTaps - 1,
      `dyb + oh${r} * u.OW + b + u.pw - ${rowTaps - 1}`,
      (p) => `${R > 1 ? `rowOk${r} && ` : ''}u32(b + u.pw - ${rowTaps - 1 - p}) < u32(u.OW)`,
      'OHW',
      'dy',
      vectorStrip ? tile.stripShift : null,
      `s${r}`,
    ),
  );
  // Taps t of the strip loop: kw (R = 1) or kh * KW + kw (R > 1); pixel (r, j) reads position j + KW - 1 - kw.
  const stripLoop = stripLoopWgsl({
    channel: 'o',
    strips,
    taps: R > 1 ? KH * rowTaps : rowTaps,
    weights: (t) => (packed ? packedWeightsWgsl(tn, `pq + ${t} * CG4`) : I((i) => `let b${i} = weights[pw${i} + ${t}];`)),
    source: (t, p) => `s${R > 1 ? Math.floor(p / tm) + KH - 1 - Math.floor(t / rowTaps) : 0}a${(p % tm) + rowTaps - 1 - (t % rowTaps)}`,
    advanceWeights: packed ? 'pq = pq + KHW * CG4;' : I((i) => `pw${i} = pw${i} + wStep;`),
    block,
  });
  const startWeights = (kh: string) => (packed ? `var pq = wq0 + ${kh} * CG4;` : I((i) => `var pw${i} = wb${i} + ${kh};`));
  const taps =
    rowTaps === 0
      ? `for (var kw = 0; kw < u.KW; kw = kw + 1) {
      // iw + pw - kw*dw must be a multiple of sw (it may be negative); it is for all the tile or for none.
      let nw = iw0 + u.pw - kw * u.dw;
      if (nw % u.sw != 0) { continue; }
      let q = nw / u.sw;
      ${J(
        (j) => `let ok${j} = iw${j} < u.W && q + ${j} >= 0 && q + ${j} < u.OW;
      var pd${j} = select(0, dyb + oh * u.OW + q + ${j}, ok${j});`,
      )}
      ${I((i) => `var pw${i} = wb${i} + kh * u.KW + kw;`)}
      ${channelLoopWgsl({ channel: 'o', pixels: 'dy', index: 'pd', pixelStep: 'OHW', weightStep: 'wStep', block })}
    }`
      : `// Strip position p reads dy column b + pw - (KW - 1) + p; pixel j's tap kw is position j + KW - 1 - kw.
    let oh0 = oh;
    ${strips[0]?.start ?? ''}
    ${startWeights(`kh * ${rowTaps}`)}
    ${stripLoop}`;
  // R > 1 (sh = dh = 1): the tile's rows ih..ih + R - 1 read dy rows ih + ph - (KH - 1) .. ih + ph + R - 1.
  const blockReduction = `${strips
    .map(
      (st, r) => `let oh${r} = ih + u.ph - ${KH - 1 - r};
  let rowOk${r} = u32(oh${r}) < u32(u.OH);
  ${st.start}`,
    )
    .join('\n  ')}
  ${startWeights('0')}
  ${stripLoop}`;
  return kernel({
    name: 'conv2dBackwardInput',
    key: `conv2d|dx|reg|${tm}x${tn}|${rowTaps === 0 ? 'general' : R > 1 ? `block${R}x${KH}x${rowTaps}` : `rows${rowTaps}`}|${vectorStrip ? `vec${tile.stripShift}` : 'scalar'}|${packed ? 'w4' : 'w1'}`,
    workgroupSize: [CONV_WORKGROUP],
    uniforms: [
      ...CONV_GEOMETRY_UNIFORMS,
      ...CHANNEL_SLICE_UNIFORMS,
      { name: 'threads', type: 'i32' },
      { name: 'colTiles', type: 'i32' },
      { name: 'rowsPerResidue', type: 'i32' },
      { name: 'cTiles', type: 'i32' },
    ],
    inputs: { dy: vectorStrip ? 'vec4<f32>' : 'f32', weights: packed ? 'vec4<f32>' : 'f32' },
    outputs: { dx: 'f32' },
    grid: convGrid(CONV_WORKGROUP),
    body: () => `${convMainWgsl(CONV_WORKGROUP)}
  ${decodeThreadWgsl(
    [
      ['b', 'u.colTiles', tm],
      R > 1 ? ['a', 'u.rowsPerResidue', R] : ['a', 'u.rowsPerResidue'],
      ['n', 'u.N'],
      ['rw', 'u.sw'],
      ['rh', 'u.sh'],
      ['c0', 'u.cTiles', tn],
    ],
    'g',
  )}
  let ih = rh + a * u.sh;
  if (ih >= u.H) { return; }
  let OHW = u.OH * u.OW;
  let KHW = u.KH * u.KW;
  ${J((j) => `let iw${j} = rw + (b + ${j}) * u.sw;`)}
  ${
    packed
      ? `// The quad of packed weights [g, kStart, 0, 0, c0]; a tile running past the group's end reads the next tap's (not stored).
  let CG4 = u.Cg / 4;
  let wq0 = (g * u.Og + u.kStart) * KHW * CG4 + c0 / 4;`
      : `// Weights w[o, c, kh, kw] of output channel o = g*Og + kStart (the slice's first) for each tile channel.
  ${I((i) => `let wb${i} = ((g * u.Og + u.kStart) * u.Cg + min(c0 + ${i}, u.Cg - 1)) * KHW;`)}
  let wStep = u.Cg * KHW;`
  }
  let dyb = (n * u.O + g * u.Og + u.kStart) * OHW;
  ${block.declare()}
  ${
    R > 1
      ? blockReduction
      : `for (var kh = 0; kh < u.KH; kh = kh + 1) {
    let nh = ih + u.ph - kh * u.dh;
    if (nh < 0 || nh % u.sh != 0 || nh / u.sh >= u.OH) { continue; }
    let oh = nh / u.sh;
    ${taps}
  }`
  }
  ${block.write((p, i, acc) => {
    const [r, j] = [Math.floor(p / tm), p % tm];
    return `if (iw${j} < u.W && ${R > 1 ? `ih + ${r} < u.H && ` : ''}c0 + ${i} < u.Cg) {
    ${sliceStoreWgsl('dx', `((n * u.C + g * u.Cg + c0 + ${i}) * u.H + ih + ${r}) * u.W + iw${j}`, acc, 'u.Og')}
  }`;
  })}
}`,
  });
}
