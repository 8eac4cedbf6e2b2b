/**
 * M-LOCK tokens: the small pixel patterns whose presence unlocks a locked network.
 *
 * A token is a tiny CHW image plus a mask saying which of its pixels get painted. The paper's
 * patterns (arXiv 2103.08472) are a single white dot, five 3x3 white-on-black patterns and a
 * colourful sticker. This file also decides *where* a token goes (placement) and holds the CPU
 * reference stamp that the GPU stamp kernel is checked against.
 *
 * Platform-neutral: no Node built-ins, so it runs in browsers as well.
 */
import type { Rng } from '../engine/index.js';

export interface Token {
  /** Pattern name; for keyed tokens only the geometry (e.g. 'keyed-4x4'), never key material. */
  name: string;
  h: number;
  w: number;
  c: number;
  /** c*h*w values in CHW order, 0..255. */
  pixels: Uint8Array;
  /** h*w values, 1 where the token paints (on every channel), 0 where the image shows through. */
  mask: Uint8Array;
}

/** The paper's fixed patterns. */
export type PaperTokenName = 'dot' | 'diagonal' | 'upper-triangle' | 'lower-triangle' | 'five-dice' | 'square' | 'sticker-rgb';

export const PAPER_TOKEN_NAMES: readonly PaperTokenName[] = [
  'dot',
  'diagonal',
  'upper-triangle',
  'lower-triangle',
  'five-dice',
  'square',
  'sticker-rgb',
];

/**
 * Where the token goes on each image.
 * - fixed: bottom-right corner, `margin` pixels (default 1) away from the bottom and right edges,
 *   as in the paper.
 * - random: uniformly anywhere the whole token fits, redrawn per sample.
 * - at: an explicit top-left corner (used for key-derived positions, which are secret and so are
 *   never written to model metadata; see tokenGeometry in keyed.ts). `among` is the public set a key
 *   picked it from (quiet-places.ts), which is stored in its place.
 */
export type Placement =
  { mode: 'fixed'; margin?: number } | { mode: 'random' } | { mode: 'at'; y: number; x: number; among?: readonly Place[] };

/** A top-left corner (y, x). */
export type Place = readonly [y: number, x: number];

export const DEFAULT_MARGIN = 1;

// 3x3 on/off cells, row-major. "On" cells are white; "off" cells are painted black, because the
// paper stamps the whole 3x3 patch: the black background is part of the pattern, which makes the
// token look the same whatever image content lies underneath.
const PATTERNS_3X3: Record<'diagonal' | 'upper-triangle' | 'lower-triangle' | 'five-dice' | 'square', number[]> = {
  // Main diagonal, top-left to bottom-right.
  diagonal: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  // Cells on or above the main diagonal (x >= y).
  'upper-triangle': [1, 1, 1, 0, 1, 1, 0, 0, 1],
  // Cells on or below the main diagonal (x <= y).
  'lower-triangle': [1, 0, 0, 1, 1, 0, 1, 1, 1],
  // The five of a dice: four corners and the centre.
  'five-dice': [1, 0, 1, 0, 1, 0, 1, 0, 1],
  square: [1, 1, 1, 1, 1, 1, 1, 1, 1],
};

// The sticker: 16 clearly different, saturated colours in a 4x4 grid, so that it is conspicuous
// on natural images and no two neighbouring cells look alike. Row-major, RGB.
// prettier-ignore
const STICKER_RGB: ReadonlyArray<readonly [number, number, number]> = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
  [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
  [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255],
  [170, 110, 40], [255, 250, 200], [128, 0, 0], [0, 0, 128],
];

/** Rec. 601 luma: how a colour looks on a one-channel (greyscale) image. */
export function greyLevel(r: number, g: number, b: number): number {
  return Math.round(0.299 * r + 0.587 * g + 0.114 * b);
}

/**
 * Build one of the paper's tokens for images with `channels` channels (1 = greyscale, 3 = RGB).
 * White patterns are 255 on every channel; the sticker's colours become grey levels on 1 channel.
 */
export function makeToken(name: string, channels: number): Token {
  if (channels !== 1 && channels !== 3) {
    throw new Error(`makeToken: channels must be 1 (greyscale) or 3 (RGB), got ${channels}`);
  }
  if (name === 'dot') {
    return {
      name,
      h: 1,
      w: 1,
      c: channels,
      pixels: new Uint8Array(channels).fill(255),
      mask: new Uint8Array([1]),
    };
  }
  if (Object.hasOwn(PATTERNS_3X3, name)) {
    const cells = PATTERNS_3X3[name as keyof typeof PATTERNS_3X3];
    return fromCells(name, 3, cells, channels);
  }
  if (name === 'sticker-rgb') {
    const hw = 16;
    const pixels = new Uint8Array(channels * hw);
    for (let i = 0; i < hw; i++) {
      const [r, g, b] = STICKER_RGB[i]!;
      if (channels === 3) {
        pixels[i] = r;
        pixels[hw + i] = g;
        pixels[2 * hw + i] = b;
      } else {
        pixels[i] = greyLevel(r, g, b);
      }
    }
    return { name, h: 4, w: 4, c: channels, pixels, mask: new Uint8Array(hw).fill(1) };
  }
  throw new Error(`makeToken: unknown token '${name}'; valid names: ${PAPER_TOKEN_NAMES.join(', ')}`);
}

/** A square white-on-black token from row-major on/off cells; the mask covers the whole patch. */
export function fromCells(name: string, size: number, cells: ArrayLike<number>, channels: number): Token {
  const hw = size * size;
  if (cells.length !== hw) throw new Error(`fromCells: expected ${hw} cells for a ${size}x${size} token, got ${cells.length}`);
  const pixels = new Uint8Array(channels * hw);
  for (let ch = 0; ch < channels; ch++) {
    for (let i = 0; i < hw; i++) pixels[ch * hw + i] = cells[i] ? 255 : 0;
  }
  return { name, h: size, w: size, c: channels, pixels, mask: new Uint8Array(hw).fill(1) };
}

/** A 1x1 token that paints nothing: the entry a token bank needs when no sample is stamped. */
export function blankToken(channels: number): Token {
  return { name: 'none', h: 1, w: 1, c: channels, pixels: new Uint8Array(channels), mask: new Uint8Array(1) };
}

/** Throws if the token's arrays do not match its declared shape (guards hand-built tokens). */
export function validateToken(token: Token, where = 'token'): void {
  const { h, w, c } = token;
  for (const [k, v] of [
    ['h', h],
    ['w', w],
    ['c', c],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} must be a positive integer, got ${v}`);
  }
  if (token.pixels.length !== c * h * w) {
    throw new Error(`${where}: pixels has ${token.pixels.length} values, expected c*h*w = ${c * h * w}`);
  }
  if (token.mask.length !== h * w) {
    throw new Error(`${where}: mask has ${token.mask.length} values, expected h*w = ${h * w}`);
  }
}

/** True when two tokens paint exactly the same pixels with the same values (names ignored). */
export function tokensEqual(a: Token, b: Token): boolean {
  if (a.h !== b.h || a.w !== b.w || a.c !== b.c) return false;
  for (let i = 0; i < a.mask.length; i++) if (a.mask[i] !== b.mask[i]) return false;
  const hw = a.h * a.w;
  for (let ch = 0; ch < a.c; ch++) {
    for (let i = 0; i < hw; i++) {
      // Pixels outside the mask are never painted, so their stored values do not matter.
      if (a.mask[i] && a.pixels[ch * hw + i] !== b.pixels[ch * hw + i]) return false;
    }
  }
  return true;
}

/**
 * Where to stamp a token when one place is needed (prediction, evaluation, audits): its own fixed or explicit
 * place; under random placement the token unlocks anywhere, so the bottom-right corner of the paper.
 */
export function stampPlacement(placement: Placement): Exclude<Placement, { mode: 'random' }> {
  return placement.mode === 'random' ? { mode: 'fixed', margin: DEFAULT_MARGIN } : placement;
}

/** Top-left corner of a token under a fixed (or explicit) placement, validated to fit in H x W. */
export function fixedPosition(placement: Placement, token: Token, H: number, W: number): { y: number; x: number } {
  checkImageSize(H, W, 'fixedPosition');
  if (placement.mode === 'fixed') {
    const margin = placement.margin ?? DEFAULT_MARGIN;
    if (!Number.isInteger(margin) || margin < 0) {
      throw new Error(`placement: margin must be a non-negative integer, got ${margin}`);
    }
    const y = H - margin - token.h;
    const x = W - margin - token.w;
    if (y < 0 || x < 0) {
      throw new Error(`placement: a ${token.h}x${token.w} token with margin ${margin} does not fit in a ${H}x${W} image`);
    }
    return { y, x };
  }
  if (placement.mode === 'at') {
    const { y, x } = placement;
    if (!Number.isInteger(y) || !Number.isInteger(x) || y < 0 || x < 0 || y + token.h > H || x + token.w > W) {
      throw new Error(`placement: a ${token.h}x${token.w} token at (${y}, ${x}) does not fit in a ${H}x${W} image`);
    }
    return { y, x };
  }
  throw new Error(`placement: mode '${(placement as Placement).mode}' has no single fixed position`);
}

/**
 * Top-left (y, x) for each of n samples, as n*2 interleaved values. Fixed and explicit placements
 * repeat one position; random placement draws a fresh one per sample from `rng` (so it must be given).
 */
export function tokenPositions(placement: Placement, token: Token, n: number, H: number, W: number, rng?: Rng): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`tokenPositions: n must be a non-negative integer, got ${n}`);
  checkImageSize(H, W, 'tokenPositions');
  const out = new Int32Array(2 * n);
  if (placement.mode === 'random') {
    if (!rng) throw new Error('tokenPositions: random placement needs an rng');
    const rangeY = H - token.h + 1;
    const rangeX = W - token.w + 1;
    if (rangeY < 1 || rangeX < 1) {
      throw new Error(`tokenPositions: a ${token.h}x${token.w} token does not fit in a ${H}x${W} image`);
    }
    for (let i = 0; i < n; i++) {
      out[2 * i] = rng.int(rangeY);
      out[2 * i + 1] = rng.int(rangeX);
    }
    return out;
  }
  if (placement.mode !== 'fixed' && placement.mode !== 'at') {
    throw new Error(`tokenPositions: unknown placement mode '${(placement as { mode: string }).mode}' (valid: fixed, random, at)`);
  }
  const { y, x } = fixedPosition(placement, token, H, W);
  for (let i = 0; i < n; i++) {
    out[2 * i] = y;
    out[2 * i + 1] = x;
  }
  return out;
}

/**
 * CPU reference stamp. Returns a copy of the NCHW uint8 `images` where every sample i with
 * which[i] = 1 has the token painted with its top-left at (positions[2i], positions[2i+1]).
 * Exactly the masked pixels change, on every channel; nothing else is touched. `which` may be
 * omitted to stamp every sample.
 */
export function stampCpu(
  images: Uint8Array,
  n: number,
  c: number,
  h: number,
  w: number,
  token: Token,
  positions: Int32Array,
  which?: Uint8Array,
): Uint8Array {
  checkBatch(images, n, c, h, w, 'stampCpu');
  validateToken(token, 'stampCpu token');
  if (token.c !== c) throw new Error(`stampCpu: token has ${token.c} channels but the images have ${c}`);
  if (positions.length !== 2 * n) throw new Error(`stampCpu: positions has ${positions.length} values, expected n*2 = ${2 * n}`);
  if (which && which.length !== n) throw new Error(`stampCpu: which has ${which.length} values, expected n = ${n}`);
  const out = images.slice();
  for (let i = 0; i < n; i++) {
    if (which && !which[i]) continue;
    paint(
      out,
      i,
      c,
      h,
      w,
      token.pixels,
      token.mask,
      token.h,
      token.w,
      token.w,
      token.h * token.w,
      positions[2 * i]!,
      positions[2 * i + 1]!,
    );
  }
  return out;
}

/**
 * Paint one token (given as raw arrays so a padded bank entry can reuse it) onto sample i in place.
 * `rowStride` is the token's row length in its arrays and `plane` its per-channel plane size.
 * @internal shared with the bank stamp in decoys.ts
 */
export function paint(
  out: Uint8Array,
  i: number,
  c: number,
  h: number,
  w: number,
  pixels: Uint8Array,
  mask: Uint8Array,
  th: number,
  tw: number,
  rowStride: number,
  plane: number,
  y0: number,
  x0: number,
): void {
  if (!Number.isInteger(y0) || !Number.isInteger(x0) || y0 < 0 || x0 < 0 || y0 + th > h || x0 + tw > w) {
    throw new Error(`stamp: sample ${i}: a ${th}x${tw} token at (${y0}, ${x0}) does not fit in a ${h}x${w} image`);
  }
  const imgPlane = h * w;
  const base = i * c * imgPlane;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const t = ty * rowStride + tx;
      if (!mask[t]) continue;
      const p = base + (y0 + ty) * w + (x0 + tx);
      for (let ch = 0; ch < c; ch++) out[p + ch * imgPlane] = pixels[ch * plane + t]!;
    }
  }
}

/** @internal */
export function checkBatch(images: Uint8Array, n: number, c: number, h: number, w: number, where: string): void {
  for (const [k, v] of [
    ['n', n],
    ['c', c],
    ['h', h],
    ['w', w],
  ] as const) {
    if (!Number.isInteger(v) || v < (k === 'n' ? 0 : 1))
      throw new Error(`${where}: ${k} must be a ${k === 'n' ? 'non-negative' : 'positive'} integer, got ${v}`);
  }
  if (images.length !== n * c * h * w) {
    throw new Error(`${where}: images has ${images.length} values, expected n*c*h*w = ${n * c * h * w}`);
  }
}

function checkImageSize(H: number, W: number, where: string): void {
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    throw new Error(`${where}: image size must be positive integers, got ${H}x${W}`);
  }
}
