/**
 * From a convolution's geometry to dispatches, for each of the three passes: the tile policy (register tile
 * sides, which walk), the thread grid, and the loop-budget splits (channel slices for the forward and the input
 * gradient, reduction chunks for the filter gradient). Pure planning, like kernels/matmul/dispatch.ts: the op
 * layer checks shapes, allocates and binds the buffers, and runs what is planned here.
 */
import type { UniformValues } from '../program.js';
import { LOOP_BUDGET } from '../loop-budget.js';
import { convGeometryUniforms, type ConvGeometry } from './geometry.js';
import { conv2dForwardProgram, MAX_ROW_TAPS } from './forward.js';
import { conv2dBackwardInputProgram } from './backward-input.js';
import { conv2dBackwardFilterProgram } from './backward-filter.js';

/**
 * How the forward and backward-input kernels walk the reduction: 'auto' takes row strips wherever they apply
 * and the general walk elsewhere, with vec4 strip loads where the rows allow them on adapters that gain from
 * it (see ConvAdapter); 'vector' takes vec4 strip loads wherever the rows allow them, on any adapter; 'general'
 * forces the general walk everywhere. The last two let tests check every walk on every adapter.
 */
export type ConvVariant = 'auto' | 'vector' | 'general';

/**
 * Whether the adapter gains from vec4 strip loads: llvmpipe (behind OpenGL ES) runs a storage load with a
 * per-invocation index as a loop over its SIMD lanes, so four floats per loop pay; SwiftShader gathers each
 * component on its own, so there the scalar strips stay unless measured otherwise.
 */
export interface ConvAdapter {
  isFallbackAdapter: boolean;
  backend: string;
}

const vec4StripsPay = (a: ConvAdapter) => a.isFallbackAdapter && a.backend === 'opengles';

/** SwiftShader (Vulkan, software): scalar strips and OIHW weights, with row blocks where rows are short (swiftShaderBlocks). */
const isSwiftShader = (a: ConvAdapter) => a.isFallbackAdapter && a.backend === 'vulkan';

/**
 * The compiled-in shift of a vec4 strip, or null for scalar loads: vec4 strips need rows (and so planes) of a
 * multiple of 4 elements, so that with a tile start that is a multiple of 4 (every row side is) the strip
 * starts `shift` before a quad boundary, where `shift` depends only on the padding.
 */
function stripShift(rowLength: number, offset: number, variant: ConvVariant, adapter: ConvAdapter): number | null {
  const wanted = variant === 'vector' || (variant === 'auto' && vec4StripsPay(adapter) && rowLength >= VEC4_STRIP_MIN_ROW);
  return wanted && rowLength % 4 === 0 ? ((offset % 4) + 4) % 4 : null;
}

/**
 * Rows shorter than this keep scalar strips under 'auto': measured side by side on llvmpipe (VGG layers, batch
 * 64, best of 4 interleaved runs), vec4 strips ran 1.06-1.17x as fast as scalar ones on rows of 16 and 32 and
 * 0.96-1.02x on rows of 8, where a strip is only 10 values and the masking around 3 quads costs what the
 * loads save.
 */
const VEC4_STRIP_MIN_ROW = 16;

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

/** KW when the row-strip walk applies (horizontal stride and dilation 1, a kernel wider than 1), else 0. */
function rowTapsOf(geo: ConvGeometry, variant: ConvVariant): number {
  const applies = geo.strideW === 1 && geo.dilationW === 1 && geo.KW >= 2 && geo.KW <= MAX_ROW_TAPS;
  return variant !== 'general' && applies ? geo.KW : 0;
}

/** The longest row side for a walk: 16 pixels for strips of kernels up to 3 wide, else 8. */
function maxRowSide(rowTaps: number): number {
  return rowTaps !== 0 && rowTaps <= 3 ? 16 : 8;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** One dispatch of a conv kernel: the program computes its grid from the `threads` uniform. */
export interface ConvDispatch<P> {
  program: P;
  uniforms: UniformValues;
  trips: number;
  /**
   * The layout the kernel reads its `weights` in: 'oihw' as given, or 'packed' with the tile's channels
   * contiguous (see packedWeightsWgsl): [G, Cg, KH, KW, Og] for the forward, [G, Og, KH, KW, Cg] for the input
   * gradient. The op layer packs them once per call.
   */
  weights?: 'oihw' | 'packed';
}

/**
 * Whether a row-strip walk reads its weights packed, as vec4s over `channels` (the tile's side of the GEMM):
 * on llvmpipe (vec4 loads pay there, as for the strips) or under 'vector', where the channels are whole quads.
 */
function packsWeights(rowTaps: number, channels: number, variant: ConvVariant, adapter: ConvAdapter): boolean {
  return rowTaps !== 0 && channels % 4 === 0 && (variant === 'vector' || (variant === 'auto' && vec4StripsPay(adapter)));
}

/**
 * Loop iterations per invocation of the forward and backward-input walks over `channels` channels of the
 * reduction: over kh, then kw (unless row strips unroll it), then the channels.
 */
function reductionTrips(geo: ConvGeometry, rowTaps: number, channels: number, blockTaps = 0): number {
  if (blockTaps) return channels + 1;
  return rowTaps ? geo.KH * (1 + channels) : geo.KH * (1 + geo.KW * (1 + channels));
}

/**
 * One dispatch per slice of the reduction's `channels`, each slice as long as the loop budget allows (one slice
 * for all but very wide groups; each later slice adds to the output).
 */
function channelSlices<P>(
  geo: ConvGeometry,
  rowTaps: number,
  blockTaps: number,
  channels: number,
  dispatch: (slice: { kStart: number; kEnd: number }, trips: number) => ConvDispatch<P>,
): ConvDispatch<P>[] {
  let longest = channels;
  while (longest > 1 && reductionTrips(geo, rowTaps, longest, blockTaps) > LOOP_BUDGET) longest = Math.ceil(longest / 2);
  const slices = Math.ceil(channels / longest);
  const len = Math.ceil(channels / slices);
  const out: ConvDispatch<P>[] = [];
  for (let kStart = 0; kStart < channels; kStart += len) {
    const kEnd = Math.min(channels, kStart + len);
    out.push(dispatch({ kStart, kEnd }, reductionTrips(geo, rowTaps, kEnd - kStart, blockTaps)));
  }
  return out;
}

/**
 * Rows per tile of a row-strip walk (see ForwardTile.blockRows): as many (a power of 2, at most the plane's
 * height `rows`) as make about `pixels` pixels (0: one row), so for 32, 2 rows of 16, 4 of 8, 8 (or the height) of
 * 4; needs vertical stride and dilation 1 and a kernel at most MAX_ROW_TAPS tall. Where the weights are packed
 * (llvmpipe, or 'vector') blocks make 32 pixels on llvmpipe and 16 elsewhere; SwiftShader under 'auto' takes them
 * with the OIHW weights on rows of 8 or fewer (swiftShaderBlocks). Measured side by side on llvmpipe (VGG layers,
 * batch 64, medians): blocks of about 16 pixels ran 1.2-1.9x as fast as one row on the 8- and 4-wide layers;
 * blocks of 32, 1.03-1.30x as fast again (up to 256 sums, which spill: native stack traffic, where every operand
 * float saved is a lane loop). SwiftShader's blocks stop at 128 sums: its compiler takes minutes over, or crashes
 * on, the unrolled 256-sum blocks.
 */
function rowBlock(geo: ConvGeometry, rowTaps: number, tm: number, pixels: number, rows: number): number {
  if (!pixels || !rowBlocksApply(geo, rowTaps)) return 1;
  let r = 1;
  while (r * tm < pixels && r < rows) r *= 2;
  return r;
}

/** Whether a row-strip walk can take row blocks: vertical stride and dilation 1, a kernel at most MAX_ROW_TAPS tall. */
function rowBlocksApply(geo: ConvGeometry, rowTaps: number): boolean {
  return rowTaps !== 0 && geo.strideH === 1 && geo.dilationH === 1 && geo.KH <= MAX_ROW_TAPS;
}

/**
 * Whether SwiftShader takes row blocks under 'auto': on rows of 8 or fewer (a row tile under 16 pixels), where a
 * one-row tile loads one strip and KW weights per channel for each kh, every load serving at most 8 pixels (8 x 8
 * planes, 8 channels: 34 loads per 192 multiply-adds, twice what the 16-pixel tiles of wider rows load per
 * multiply-add). A block of 4 rows of 8 and 4 channels (128 sums) loads each of its R + KH - 1 strips once per
 * channel for all its (row, kh) pairs, and each weight once for 32 pixels: 96 loads per 1,152 multiply-adds.
 * SwiftShader gathers every load lane by lane, vec4s too, so the weights stay OIHW (no packing pass) and the strips
 * scalar. Measured side by side on SwiftShader (docs/adapters.md): see there for the VGG's 8 x 8 and 4 x 4 layers.
 * Rows of 16 and more keep one-row tiles, whose 16 pixels already share each weight.
 */
function swiftShaderBlocks(tm: number, variant: ConvVariant, adapter: ConvAdapter): boolean {
  return variant === 'auto' && isSwiftShader(adapter) && tm < 16;
}

/** Sums per tile of SwiftShader's row blocks (swiftShaderBlocks): the channel side is 128 / the block's pixels. */
const SWIFTSHADER_BLOCK_SUMS = 128;

/**
 * The channel side of a row-strip tile: channelSide's, or on llvmpipe 16 where a row block has fewer than 32
 * pixels (4 x 4 planes) and the weights are packed, which keeps about 256 sums per tile (1.12-1.17x on the VGG's
 * 4 x 4 layers).
 */
function stripChannelSide(channels: number, pixels: number, packedWeights: boolean, adapter: ConvAdapter): number {
  return packedWeights && vec4StripsPay(adapter) && pixels < 32 && channels % 16 === 0 ? 16 : channelSide(channels);
}

/**
 * The tile of the forward or input-gradient pass from its row side `tm`, walk and strip loads: whether the weights
 * are packed, the row block, and the channel side over the pass's `channels` (Og for the forward, Cg for the
 * input gradient); `rows` is the height the row blocks cover (OH, or H).
 */
function gemmTile(
  geo: ConvGeometry,
  t: { tm: number; rowTaps: number; stripShift: number | null; channels: number; rows: number },
  variant: ConvVariant,
  adapter: ConvAdapter,
) {
  const packedWeights = packsWeights(t.rowTaps, t.channels, variant, adapter);
  const swift = swiftShaderBlocks(t.tm, variant, adapter);
  const pixels = swift || (packedWeights && vec4StripsPay(adapter)) ? 32 : packedWeights ? 16 : 0;
  const blockRows = rowBlock(geo, t.rowTaps, t.tm, pixels, t.rows);
  const tn =
    swift && blockRows > 1
      ? Math.min(channelSide(t.channels), SWIFTSHADER_BLOCK_SUMS / (blockRows * t.tm))
      : stripChannelSide(t.channels, blockRows * t.tm, packedWeights, adapter);
  return { tm: t.tm, tn, rowTaps: t.rowTaps, stripShift: t.stripShift, packedWeights, blockRows, blockTaps: blockRows > 1 ? geo.KH : 0 };
}

/** The forward pass: inputs x, w (and bias), output y [N, O, OH, OW]. */
export function forwardDispatches(
  geo: ConvGeometry,
  hasBias: boolean,
  variant: ConvVariant,
  adapter: ConvAdapter,
): ConvDispatch<ReturnType<typeof conv2dForwardProgram>>[] {
  const rowTaps = rowTapsOf(geo, variant);
  // A strip starts at input column ow0 - pw (ow0 a multiple of the row side).
  const shift = rowTaps ? stripShift(geo.W, geo.padLeft, variant, adapter) : null;
  const tm = rowTaps ? rowSide(geo.OW, maxRowSide(rowTaps)) : 8;
  const tile = gemmTile(geo, { tm, rowTaps, stripShift: shift, channels: geo.O / geo.groups, rows: geo.OH }, variant, adapter);
  const { blockRows, blockTaps, packedWeights } = tile;
  const pixelTiles = rowTaps ? geo.N * ceilDiv(geo.OH, blockRows) * ceilDiv(geo.OW, tile.tm) : ceilDiv(geo.N * geo.OH * geo.OW, tile.tm);
  const oTiles = ceilDiv(geo.O / geo.groups, tile.tn);
  const threads = geo.groups * oTiles * pixelTiles;
  const program = conv2dForwardProgram(tile, hasBias);
  return channelSlices(geo, rowTaps, blockTaps, geo.C / geo.groups, (slice, trips) => ({
    program,
    trips,
    uniforms: { ...convGeometryUniforms(geo), ...slice, threads, pixelTiles, oTiles },
    weights: packedWeights ? 'packed' : 'oihw',
  }));
}

/** The input gradient: inputs dy, w, output dx [N, C, H, W]. */
export function backwardInputDispatches(
  geo: ConvGeometry,
  variant: ConvVariant,
  adapter: ConvAdapter,
): ConvDispatch<ReturnType<typeof conv2dBackwardInputProgram>>[] {
  const Cg = geo.C / geo.groups;
  const rowTaps = rowTapsOf(geo, variant);
  // A strip starts at dy column b + pw - (KW - 1) (b a multiple of the row side).
  const shift = rowTaps ? stripShift(geo.OW, rowTaps - 1 - geo.padLeft, variant, adapter) : null;
  const tm = rowSide(ceilDiv(geo.W, geo.strideW), maxRowSide(rowTaps));
  const tile = gemmTile(geo, { tm, rowTaps, stripShift: shift, channels: Cg, rows: geo.H }, variant, adapter);
  const { blockRows, blockTaps, packedWeights } = tile;
  const colTiles = ceilDiv(ceilDiv(geo.W, geo.strideW), tile.tm);
  // Row blocks take vertical stride 1, so they cover the rows in blocks of blockRows.
  const rowsPerResidue = ceilDiv(geo.H, geo.strideH * blockRows);
  const cTiles = ceilDiv(Cg, tile.tn);
  const threads = geo.groups * cTiles * geo.strideH * geo.strideW * geo.N * rowsPerResidue * colTiles;
  const program = conv2dBackwardInputProgram(tile);
  return channelSlices(geo, rowTaps, blockTaps, geo.O / geo.groups, (slice, trips) => ({
    program,
    trips,
    uniforms: { ...convGeometryUniforms(geo), ...slice, threads, colTiles, rowsPerResidue, cTiles },
    weights: packedWeights ? 'packed' : 'oihw',
  }));
}

/**
 * The filter gradient's reduction (over N*OH*OW) is split into chunks of whole output rows when there are too
 * few output tiles to keep the device busy; a chunk is never shorter than MIN_CHUNK_STEPS positions.
 */
const TARGET_THREADS = 4096;
const MIN_CHUNK_STEPS = 256;

/**
 * (c, kh) rows per thread of the filter gradient's row-strip walk: on llvmpipe at most 24 entries (rows x KW) per
 * output channel, so an 8-channel block holds at most 192 sums, and the rows split into equal tiles (9 rows: 2
 * tiles of 5, not 8 and 1). There, VGG layers (KW = 3), 8 rows ran 1.07-1.20x as fast as 4 on width 32 and
 * 1.05-1.17x on width 8 (side by side, medians): the spilled sums cost native stack traffic, a dy load a lane loop.
 * Elsewhere (SwiftShader under 'vector') at most 12 entries: SwiftShader's compiler did not finish a 144-sum
 * block in 5 minutes.
 */
function filterRowSide(rows: number, KW: number, adapter: ConvAdapter): number {
  const most = Math.max(1, Math.min(8, Math.floor((vec4StripsPay(adapter) ? 24 : 12) / KW)));
  return Math.ceil(rows / Math.ceil(rows / most));
}

/**
 * The filter gradient: inputs x, dy, output the partial sums [chunks, O, C/groups, KH, KW], which the op sums
 * over the chunk axis (in a fixed order) unless there is one chunk. The row-strip walk takes horizontal stride 1
 * and dilation 1 with rows of dy of a multiple of 4 (not under 'general'), with vec4 loads on adapters that gain
 * from them (and wherever x's rows allow under 'vector').
 */
export function backwardFilterPlan(
  geo: ConvGeometry,
  variant: ConvVariant = 'auto',
  adapter: ConvAdapter = { isFallbackAdapter: false, backend: '' },
): {
  dispatch: ConvDispatch<ReturnType<typeof conv2dBackwardFilterProgram>>;
  chunks: number;
} {
  const Og = geo.O / geo.groups;
  const entries = (geo.C / geo.groups) * geo.KH * geo.KW;
  const rows = geo.N * geo.OH;
  const positions = rows * geo.OW;
  // A chunk of whole rows loops once per row and OW / 4 times inside it.
  const rowTrips = geo.OW / 4 + 1;
  const strips =
    variant !== 'general' &&
    geo.strideW === 1 &&
    geo.dilationW === 1 &&
    geo.KW <= MAX_ROW_TAPS &&
    geo.OW % 4 === 0 &&
    rowTrips + 1 <= LOOP_BUDGET &&
    (variant === 'vector' || vec4StripsPay(adapter));
  const rowTaps = strips ? geo.KW : 0;
  const pairs = (geo.C / geo.groups) * geo.KH;
  const vec4 = strips && geo.W % 4 === 0 && (variant === 'vector' || vec4StripsPay(adapter));
  const tile = {
    to: channelSide(Og),
    te: strips ? filterRowSide(pairs, geo.KW, adapter) : channelSide(entries),
    rowTaps,
    stripShift: vec4 ? geo.padLeft % 4 : null,
  };
  const oTiles = ceilDiv(Og, tile.to);
  const eTiles = ceilDiv(strips ? pairs : entries, tile.te);
  const tiles = geo.groups * oTiles * eTiles;
  const wantedChunks = Math.max(1, Math.min(ceilDiv(TARGET_THREADS, tiles), Math.floor(positions / MIN_CHUNK_STEPS)));
  let chunkLen: number;
  let trips: number;
  if (strips) {
    // Chunks of whole rows, as many as the loop budget allows.
    chunkLen = Math.min(Math.floor((LOOP_BUDGET - 1) / rowTrips), Math.max(1, ceilDiv(rows, wantedChunks)));
    trips = chunkLen * rowTrips + 1;
  } else {
    // Chunks of whole rows, unless that is over the loop budget: a chunk of L positions loops L times inside
    // rows and at most ceil(L / OW) + 1 times over them.
    const maxLen = Math.floor(((LOOP_BUDGET - 2) * geo.OW) / (geo.OW + 1));
    chunkLen = Math.min(maxLen, Math.max(1, ceilDiv(rows, wantedChunks)) * geo.OW);
    trips = chunkLen + ceilDiv(chunkLen, geo.OW) + 1;
  }
  const chunks = Math.max(1, ceilDiv(strips ? rows : positions, chunkLen));
  const threads = chunks * tiles;
  return {
    chunks,
    dispatch: {
      program: conv2dBackwardFilterProgram(tile),
      trips,
      uniforms: { ...convGeometryUniforms(geo), threads, eTiles, oTiles, chunkLen },
    },
  };
}
