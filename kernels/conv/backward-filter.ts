/**
 * conv2d gradient w.r.t. the weights, as a GEMM per group with M = O/groups output channels,
 * N = C/groups*KH*KW weight entries (c, kh, kw) and K = N*OH*OW output positions:
 *   dw[o, c, kh, kw] = sum over (n, oh, ow) of dy[n, o, oh, ow] * x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw].
 *
 * Register tiling, no barriers: one thread owns TO output channels x TE weight entries, and walks output rows
 * (n, oh), then ow along the row. K is long and the output small, so K is cut into chunks of `chunkLen`
 * consecutive output positions (whole rows where they fit the loop budget, else parts of a row); each thread
 * writes the partial sums of one chunk to partial[chunk, o, entry], and a second pass (a plain sum over the
 * chunk axis, in a fixed order) finishes the reduction deterministically.
 *
 * Two walks, chosen by `rowTaps`:
 * - general (rowTaps 0): any TE consecutive weight entries, one output position at a time: every step loads
 *   TO dy values and TE x values (each masked) for TO x TE multiply-adds. Any stride, dilation and kernel size.
 * - row strips (rowTaps = KW, for horizontal stride 1 and dilation 1, and rows of a multiple of 4): a thread's
 *   entries are the KW taps of TR (c, kh) rows, and it walks whole output rows in quads of four positions. Per
 *   quad, each (c, kh) row reads one strip of 4 + KW - 1 x values (strip.ts) that serves all its 4 x KW
 *   (position, tap) pairs, and each output channel four consecutive dy values: TO + TR strips of loads for
 *   4 x TO x TR x KW multiply-adds, where the general walk loads 4 x (TO + TR x KW). With `vec4` set (llvmpipe,
 *   where a load is a loop over the SIMD lanes) the four dy values are one vec4 load and the strips are read as
 *   vec4s (which also needs rows of x of a multiple of 4).
 */
import { kernel } from '../program.js';
import { range, registerBlock, unroll } from '../gemm/register-block.js';
import { stripWgsl } from './strip.js';
import { CONV_GEOMETRY_UNIFORMS, convGrid, convMainWgsl, decodeThreadWgsl } from './geometry.js';
import { CONV_WORKGROUP } from './forward.js';

export interface BackwardFilterTile {
  /** Output channels per thread. */
  to: number;
  /** Weight entries (c, kh, kw) per thread (general walk), or (c, kh) rows of KW entries each (row strips). */
  te: number;
  /** KW for the row-strip walk (stride 1 and dilation 1 along W, OW a multiple of 4), or 0 for the general walk. */
  rowTaps: number;
  /** Row strips and dy read as vec4s (strip.ts's shift, pw mod 4, with W a multiple of 4); null for scalar loads. */
  stripShift: number | null;
}

/**
 * Output positions per step of the row-strip walk: one quad of dy per channel. (Steps of 8, two quads, measured no
 * faster on llvmpipe.) With vec4 loads the x strips slide along the row (strip.ts): each step loads one new quad
 * per strip and keeps the KW - 1 positions it shares with the next.
 */
const QUAD = 4;

/**
 * Threads: chunks * groups * oTiles * eTiles, with oTiles = ceil(Og / to), eTiles = ceil(Cg*KH*KW / te).
 * Inputs `input` (x) and `dy`; output `partial`, the partial sums [chunks, O, Cg*KH*KW].
 */
/**
 * Threads: chunks * groups * oTiles * eTiles, with oTiles = ceil(Og / to), eTiles = ceil(Cg*KH*KW / te) for the
 * general walk and ceil(Cg*KH / te) for row strips. Inputs `input` (x) and `dy`; output `partial`, the partial sums
 * [chunks, O, Cg*KH*KW]. A chunk is `chunkLen` consecutive output positions (general walk) or `chunkLen` whole
 * output rows (row strips).
 */
export function conv2dBackwardFilterProgram(tile: BackwardFilterTile) {
  const { to, te, rowTaps } = tile;
  const span = QUAD;
  const vec4 = rowTaps !== 0 && tile.stripShift !== null;
  const I = (f: (i: number) => string, sep?: string) => unroll(to, f, sep);
  const J = (f: (j: number) => string, sep?: string) => unroll(te, f, sep);
  // The block: rows are the tile's output channels (i), columns its weight entries (j, or row j's tap kw at j * KW + kw).
  const block = registerBlock(to, rowTaps === 0 ? te : te * rowTaps);
  const general = `// Each weight entry of the tile: its input channel plane, and its tap's offset from (oh*sh, ow*sw).
  ${J(
    (j) => `let ec${j} = min(e0 + ${j}, E - 1);
  let xc${j} = (g * u.Cg + ec${j} / KHW) * HW;
  let ty${j} = ((ec${j} % KHW) / u.KW) * u.dh - u.ph;
  let tx${j} = (ec${j} % u.KW) * u.dw - u.pw;`,
  )}
  ${I((i) => `let oc${i} = g * u.Og + min(o0 + ${i}, u.Og - 1);`)}
  ${block.declare()}
  // Output positions [pStart, pEnd) of this chunk, walked row by row (the first and last rows may be partial).
  let pStart = chunk * u.chunkLen;
  let pEnd = min(pStart + u.chunkLen, u.N * u.OH * u.OW);
  for (var row = pStart / u.OW; row * u.OW < pEnd; row = row + 1) {
    let n = row / u.OH;
    let oh = row % u.OH;
    let owStart = max(0, pStart - row * u.OW);
    let owEnd = min(u.OW, pEnd - row * u.OW);
    ${J(
      (j) => `let y${j} = oh * u.sh + ty${j};
    let rowOk${j} = u32(y${j}) < u32(u.H);
    let xr${j} = n * u.C * HW + xc${j} + y${j} * u.W;
    var x${j} = tx${j} + owStart * u.sw;`,
      '\n    ',
    )}
    ${I((i) => `var pd${i} = ((n * u.O + oc${i}) * u.OH + oh) * u.OW + owStart;`, '\n    ')}
    for (var ow = owStart; ow < owEnd; ow = ow + 1) {
      ${J(
        (j) => `let ok${j} = rowOk${j} && u32(x${j}) < u32(u.W);
      let b${j} = select(0.0, input[select(0, xr${j} + x${j}, ok${j})], ok${j});
      x${j} = x${j} + u.sw;`,
        '\n      ',
      )}
      ${I(
        (i) => `let a${i} = dy[pd${i}];
      pd${i} = pd${i} + 1;`,
        '\n      ',
      )}
      ${block.step(
        (i) => `a${i}`,
        (j) => `b${j}`,
        '\n      ',
      )}
    }
  }
  ${block.write(
    (i, j, acc) => `if (o0 + ${i} < u.Og && e0 + ${j} < E) {
    partial[(chunk * u.O + g * u.Og + o0 + ${i}) * E + e0 + ${j}] = ${acc};
  }`,
  )}`;

  // Row strips: row j of the tile is (c, kh) pair e0 + j (c = pair / KH); strip position p of quad ow0 reads x
  // column ow0 - pw + p, so position q (0..3) with tap kw reads strip position q + kw.
  const strips = range(te).map((j) =>
    stripWgsl(
      span + rowTaps - 1,
      `xr${j} + ow0 - u.pw`,
      (p) => `rowOk${j} && u32(ow0 - u.pw + ${p}) < u32(u.W)`,
      'HW',
      'input',
      tile.stripShift,
      `r${j}`,
      vec4,
    ),
  );
  // Output channel i's dy at position ow0 + q: component q % 4 of dq{i}_{q / 4}.
  const dyQuad = (i: number) =>
    unroll(
      span / 4,
      (h) =>
        vec4
          ? `let dq${i}_${h} = dy[(pd${i} + ow0) / 4 + ${h}];`
          : `let dq${i}_${h} = vec4<f32>(${unroll(4, (q) => `dy[pd${i} + ow0 + ${4 * h + q}]`, ', ')});`,
      '\n      ',
    );
  const rows = `// Each (c, kh) row of the tile: its input channel plane and its row's offset from oh*sh.
  let R = u.Cg * u.KH;
  ${J(
    (j) => `let pr${j} = min(e0 + ${j}, R - 1);
  let xc${j} = (g * u.Cg + pr${j} / u.KH) * HW;
  let ty${j} = (pr${j} % u.KH) * u.dh - u.ph;`,
  )}
  ${I((i) => `let oc${i} = g * u.Og + min(o0 + ${i}, u.Og - 1);`)}
  ${block.declare()}
  let rowEnd = min((chunk + 1) * u.chunkLen, u.N * u.OH);
  for (var row = chunk * u.chunkLen; row < rowEnd; row = row + 1) {
    let n = row / u.OH;
    let oh = row % u.OH;
    ${J(
      (j) => `let y${j} = oh * u.sh + ty${j};
    let rowOk${j} = u32(y${j}) < u32(u.H);
    let xr${j} = n * u.C * HW + xc${j} + y${j} * u.W;`,
      '\n    ',
    )}
    ${I((i) => `let pd${i} = ((n * u.O + oc${i}) * u.OH + oh) * u.OW;`, '\n    ')}
    var ow0 = 0;
    ${vec4 ? strips.map((st) => st.start).join('\n    ') : ''}
    for (; ow0 < u.OW; ow0 = ow0 + ${span}) {
      ${strips.map((st) => (vec4 ? st.load : `${st.start}\n      ${st.load}`)).join('\n      ')}
      ${I(dyQuad, '\n      ')}
      ${range(span)
        .map((q) =>
          block.step(
            (i) => `dq${i}_${q >> 2}[${q & 3}]`,
            (jk) => `r${Math.floor(jk / rowTaps)}a${q + (jk % rowTaps)}`,
            '\n      ',
          ),
        )
        .join('\n      ')}
      ${vec4 ? strips.map((st) => st.advance).join('\n      ') : ''}
    }
  }
  ${block.write(
    (i, jk, acc) => `if (o0 + ${i} < u.Og && e0 + ${Math.floor(jk / rowTaps)} < R) {
    partial[(chunk * u.O + g * u.Og + o0 + ${i}) * E + (e0 + ${Math.floor(jk / rowTaps)}) * u.KW + ${jk % rowTaps}] = ${acc};
  }`,
  )}`;

  return kernel({
    name: 'conv2dBackwardFilter',
    key: `conv2d|dw|reg|${to}x${te}|${rowTaps === 0 ? 'general' : `rows${rowTaps}`}|${vec4 ? `vec${tile.stripShift}` : 'scalar'}`,
    workgroupSize: [CONV_WORKGROUP],
    uniforms: [
      ...CONV_GEOMETRY_UNIFORMS,
      { name: 'threads', type: 'i32' },
      { name: 'eTiles', type: 'i32' },
      { name: 'oTiles', type: 'i32' },
      { name: 'chunkLen', type: 'i32' },
    ],
    inputs: { input: vec4 ? 'vec4<f32>' : 'f32', dy: vec4 ? 'vec4<f32>' : 'f32' },
    outputs: { partial: 'f32' },
    grid: convGrid(CONV_WORKGROUP),
    body: () => `${convMainWgsl(CONV_WORKGROUP)}
  ${decodeThreadWgsl(
    [
      ['e0', 'u.eTiles', te],
      ['o0', 'u.oTiles', to],
      ['g', 'u.G'],
    ],
    'chunk',
  )}
  let HW = u.H * u.W;
  let KHW = u.KH * u.KW;
  let E = u.Cg * KHW;
  ${rowTaps === 0 ? general : rows}
}`,
  });
}
