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
 */
import { kernel } from '../program.js';
import { registerBlock, unroll } from '../gemm/register-block.js';
import { CONV_GEOMETRY_UNIFORMS, convGrid, convMainWgsl, decodeThreadWgsl } from './geometry.js';
import { CONV_WORKGROUP } from './forward.js';

export interface BackwardFilterTile {
  /** Output channels per thread. */
  to: number;
  /** Weight entries (c, kh, kw) per thread. */
  te: number;
}

/**
 * Threads: chunks * groups * oTiles * eTiles, with oTiles = ceil(Og / to), eTiles = ceil(Cg*KH*KW / te).
 * Inputs `input` (x) and `dy`; output `partial`, the partial sums [chunks, O, Cg*KH*KW].
 */
export function conv2dBackwardFilterProgram(tile: BackwardFilterTile) {
  const { to, te } = tile;
  const I = (f: (i: number) => string, sep?: string) => unroll(to, f, sep);
  const J = (f: (j: number) => string, sep?: string) => unroll(te, f, sep);
  // The block: rows are the tile's output channels (i), columns its weight entries (j).
  const block = registerBlock(to, te);
  return kernel({
    name: 'conv2dBackwardFilter',
    key: `conv2d|dw|reg|${to}x${te}`,
    workgroupSize: [CONV_WORKGROUP],
    uniforms: [
      ...CONV_GEOMETRY_UNIFORMS,
      { name: 'threads', type: 'i32' },
      { name: 'eTiles', type: 'i32' },
      { name: 'oTiles', type: 'i32' },
      { name: 'chunkLen', type: 'i32' },
    ],
    inputs: { input: 'f32', dy: 'f32' },
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
  // Each weight entry of the tile: its input channel plane, and its tap's offset from (oh*sh, ow*sw).
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
  )}
}`,
  });
}
