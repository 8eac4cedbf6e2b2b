/**
 * Forgeries of a token that a network may mistake for it: the same pattern with some cells changed, shifted,
 * dimmed or brightened, partly covered, and look-alike patterns near its place. Decoy training uses fresh
 * draws of these every epoch (so the detector learns a sharp boundary, not a list), and the audit measures
 * the trained lock against fresh draws it never saw.
 *
 * Platform-neutral: no Node built-ins.
 */
import type { Rng } from '../engine/index.js';
import { levelValue } from './keyed.js';
import { DEFAULT_MARGIN, tokensEqual, validateToken, type Place, type Token } from './tokens.js';

/** A token to paint and where: what one forged (or real) stamp is. */
export interface Stamp {
  token: Token;
  y: number;
  x: number;
}

/** The value levels a cell channel may take: the token's own levels when keyed, else black and white. */
function valueLevels(levels: number | undefined): number[] {
  const L = levels ?? 2;
  return Array.from({ length: L }, (_, k) => levelValue(k, L));
}

function copyToken(t: Token, name: string): Token {
  return { name, h: t.h, w: t.w, c: t.c, pixels: t.pixels.slice(), mask: t.mask.slice() };
}

/**
 * The token with exactly `k` cells changed: each chosen cell gets a different value on at least one channel
 * (a new colour drawn uniformly from all the others the levels allow). Cells are chosen uniformly, or, given
 * `cellWeights` (one per cell), with probability proportional to them, without replacement.
 */
export function changeCells(token: Token, k: number, rng: Rng, levels?: number, cellWeights?: ArrayLike<number>): Token {
  validateToken(token, 'changeCells');
  const n = token.h * token.w;
  if (!Number.isInteger(k) || k < 0 || k > n) throw new Error(`changeCells: k must be an integer in [0, ${n}], got ${k}`);
  if (cellWeights && cellWeights.length !== n) throw new Error(`changeCells: ${cellWeights.length} cell weights for ${n} cells`);
  const values = valueLevels(levels);
  const out = copyToken(token, `${token.name}~${k}cells`);
  const cells = cellWeights ? weightedChoice(cellWeights, k, rng) : rng.permutation(n).subarray(0, k);
  const colours = values.length ** token.c;
  for (const cell of cells) {
    const old = colourIndex(token, cell, values);
    // Uniform over the colours other than the old one: draw from colours-1 and skip past the old.
    let pick = rng.int(colours - 1);
    if (pick >= old) pick++;
    for (let ch = 0; ch < token.c; ch++) {
      out.pixels[ch * n + cell] = values[pick % values.length]!;
      pick = Math.floor(pick / values.length);
    }
    out.mask[cell] = 1;
  }
  return out;
}

/** k distinct indices, each draw proportional to `weights` among those not yet drawn (uniform if all are zero). */
function weightedChoice(weights: ArrayLike<number>, k: number, rng: Rng): Int32Array {
  const w = Float64Array.from(weights, (x) => (x > 0 ? x : 0));
  const taken = new Uint8Array(w.length);
  const out = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    let total = 0;
    for (let i = 0; i < w.length; i++) if (!taken[i]) total += w[i]!;
    const uniform = !(total > 0);
    let r = rng.next() * (uniform ? w.length - j : total);
    let pick = -1;
    for (let i = 0; i < w.length; i++) {
      if (taken[i]) continue;
      pick = i; // the last free cell also absorbs rounding at the end of the range
      if ((r -= uniform ? 1 : w[i]!) < 0) break;
    }
    out[j] = pick;
    taken[pick] = 1;
  }
  return out;
}

/** Index of a cell's colour among values^c (channel 0 least significant); off-level values snap to the nearest. */
function colourIndex(token: Token, cell: number, values: number[]): number {
  const n = token.h * token.w;
  let index = 0;
  for (let ch = token.c - 1; ch >= 0; ch--) {
    const v = token.pixels[ch * n + cell]!;
    let best = 0;
    for (let j = 1; j < values.length; j++) if (Math.abs(values[j]! - v) < Math.abs(values[best]! - v)) best = j;
    index = index * values.length + best;
  }
  return index;
}

/** Every token at distance 1: each cell set to each of its other colours, with the cell it changes. */
export function oneCellVariants(token: Token, levels?: number): { cell: number; token: Token }[] {
  validateToken(token, 'oneCellVariants');
  const values = valueLevels(levels);
  const n = token.h * token.w;
  const colours = values.length ** token.c;
  const out: { cell: number; token: Token }[] = [];
  for (let cell = 0; cell < n; cell++) {
    const old = colourIndex(token, cell, values);
    for (let colour = 0; colour < colours; colour++) {
      if (colour === old) continue;
      const v = copyToken(token, `${token.name}~cell${cell}`);
      for (let ch = 0, c = colour; ch < token.c; ch++, c = Math.floor(c / values.length))
        v.pixels[ch * n + cell] = values[c % values.length]!;
      v.mask[cell] = 1;
      out.push({ cell, token: v });
    }
  }
  return out;
}

/** Every pixel value multiplied by `factor` (dimmed below 1, brightened above), clipped to 0..255. */
export function scaleBrightness(token: Token, factor: number): Token {
  validateToken(token, 'scaleBrightness');
  if (!(factor >= 0)) throw new Error(`scaleBrightness: factor must be >= 0, got ${factor}`);
  const out = copyToken(token, `${token.name}*${factor.toFixed(2)}`);
  for (let i = 0; i < out.pixels.length; i++) out.pixels[i] = Math.min(255, Math.round(token.pixels[i]! * factor));
  return out;
}

/**
 * The token with a rectangle of its cells covered: either left unpainted (the image shows through, as when a
 * sticker is partly peeled off) or painted black (as when something lies over it). `share` is the covered
 * fraction of the area, at least one cell.
 */
export function coverPart(token: Token, share: number, rng: Rng, mode: 'unpainted' | 'black'): Token {
  validateToken(token, 'coverPart');
  const n = token.h * token.w;
  const out = copyToken(token, `${token.name}-covered-${mode}`);
  const target = Math.max(1, Math.min(n - 1, Math.round(share * n)));
  // A rectangle of about `target` cells: pick its height, derive its width, place it anywhere in the patch.
  const rh = 1 + rng.int(token.h);
  const rw = Math.max(1, Math.min(token.w, Math.round(target / rh)));
  const y0 = rng.int(token.h - rh + 1);
  const x0 = rng.int(token.w - rw + 1);
  for (let y = y0; y < y0 + rh; y++) {
    for (let x = x0; x < x0 + rw; x++) {
      const cell = y * token.w + x;
      if (mode === 'unpainted') out.mask[cell] = 0;
      else for (let ch = 0; ch < token.c; ch++) out.pixels[ch * n + cell] = 0;
    }
  }
  return out;
}

/**
 * What shows through a patch where a token leaves cells unpainted: the per-pixel median (per channel) over the
 * first `n` NCHW images of the h x w window at (y, x). On MNIST's quiet places that is black.
 */
export function placeBackground(
  images: Uint8Array,
  n: number,
  c: number,
  H: number,
  W: number,
  place: { y: number; x: number },
  h: number,
  w: number,
): Uint8Array {
  if (!(n > 0) || images.length < n * c * H * W) throw new Error(`placeBackground: need ${n} images of ${c}x${H}x${W}`);
  if (place.y < 0 || place.x < 0 || place.y + h > H || place.x + w > W)
    throw new Error(`placeBackground: a ${h}x${w} window at (${place.y}, ${place.x}) is outside ${H}x${W}`);
  const out = new Uint8Array(c * h * w);
  const column = new Uint8Array(n);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const offset = (ch * H + place.y + y) * W + place.x + x;
        for (let i = 0; i < n; i++) column[i] = images[i * c * H * W + offset]!;
        column.sort();
        out[(ch * h + y) * w + x] = column[n >> 1]!;
      }
    }
  }
  return out;
}

// A cell looks changed when a channel moves by more than a quarter of the range (two grey levels of three
// differ by half of it).
const SHOWN_CHANGE = 64;

/**
 * How many cells of a forgery look different from the real token on a typical image at its place (`background`,
 * from placeBackground): painted cells show their colour, unpainted ones the background. A cover that leaves
 * black cells unpainted over a black background changes nothing there, and one that uncovers a single white
 * cell is a one-cell variant in all but name: the audit bounds covers by this count, as it bounds changed cells.
 */
export function shownDistance(forgery: Token, real: Token, background: Uint8Array): number {
  if (forgery.h !== real.h || forgery.w !== real.w || forgery.c !== real.c)
    throw new Error(`shownDistance: a ${forgery.h}x${forgery.w}x${forgery.c} forgery against a ${real.h}x${real.w}x${real.c} token`);
  const n = real.h * real.w;
  if (background.length !== real.c * n)
    throw new Error(`shownDistance: background has ${background.length} values, expected ${real.c * n}`);
  const shown = (t: Token, ch: number, i: number) => (t.mask[i] ? t.pixels[ch * n + i]! : background[ch * n + i]!);
  let d = 0;
  for (let i = 0; i < n; i++) {
    let changed = false;
    for (let ch = 0; ch < real.c && !changed; ch++) changed = Math.abs(shown(forgery, ch, i) - shown(real, ch, i)) > SHOWN_CHANGE;
    if (changed) d++;
  }
  return d;
}

/**
 * The real pattern moved without changing its colours: mirrored, rotated and transposed (the square's seven
 * symmetries; a non-square token only its two mirrors and the half turn), inverted (every value v -> 255 - v,
 * which stays on the levels) and rolled by one cell inside its own frame in each of 8 directions. Most are far
 * from the real token cell by cell, but each keeps its statistics (colour counts, runs, edges): what a
 * detector that learned those instead of the cells would accept.
 */
export function transformedTokens(token: Token): Token[] {
  validateToken(token, 'transformedTokens');
  const { h, w, c } = token;
  const moved = (name: string, th: number, tw: number, from: (y: number, x: number) => [number, number]): Token => {
    const out: Token = { name, h: th, w: tw, c, pixels: new Uint8Array(c * th * tw), mask: new Uint8Array(th * tw) };
    for (let y = 0; y < th; y++)
      for (let x = 0; x < tw; x++) {
        const [sy, sx] = from(y, x);
        out.mask[y * tw + x] = token.mask[sy * w + sx]!;
        for (let ch = 0; ch < c; ch++) out.pixels[ch * th * tw + y * tw + x] = token.pixels[ch * h * w + sy * w + sx]!;
      }
    return out;
  };
  const out = [
    moved('mirrored left-right', h, w, (y, x) => [y, w - 1 - x]),
    moved('mirrored top-bottom', h, w, (y, x) => [h - 1 - y, x]),
    moved('rotated 180', h, w, (y, x) => [h - 1 - y, w - 1 - x]),
  ];
  if (h === w)
    out.push(
      moved('transposed', h, w, (y, x) => [x, y]),
      moved('anti-transposed', h, w, (y, x) => [w - 1 - x, h - 1 - y]),
      moved('rotated 90', h, w, (y, x) => [w - 1 - x, y]),
      moved('rotated 270', h, w, (y, x) => [x, h - 1 - y]),
    );
  const inverted = copyToken(token, 'inverted');
  for (let i = 0; i < inverted.pixels.length; i++) inverted.pixels[i] = 255 - inverted.pixels[i]!;
  out.push(inverted);
  for (const [dy, dx] of [
    [-1, -1],
    [-1, 0],
    [-1, 1],
    [0, -1],
    [0, 1],
    [1, -1],
    [1, 0],
    [1, 1],
  ] as const)
    out.push(moved(`rolled ${dy},${dx}`, h, w, (y, x) => [(y + dy + h) % h, (x + dx + w) % w]));
  return out;
}

/** A fresh random pattern of the token's geometry and levels: what a guess of the cells looks like. */
export function lookAlike(token: Token, rng: Rng, levels?: number): Token {
  validateToken(token, 'lookAlike');
  const values = valueLevels(levels);
  const out = copyToken(token, `look-alike-${token.h}x${token.w}`);
  for (let i = 0; i < out.pixels.length; i++) out.pixels[i] = values[rng.int(values.length)]!;
  out.mask.fill(1);
  return out;
}

/** Whether a patch of `t`'s size fits at (y, x) in an H x W image. */
export function fits(t: Token, y: number, x: number, H: number, W: number): boolean {
  return y >= 0 && x >= 0 && y + t.h <= H && x + t.w <= W;
}

/**
 * Where a guessed key would put its token: one of the public places keys draw from when the lock has them
 * (quiet-places.ts), else a uniformly drawn spot that keeps the DEFAULT_MARGIN clear.
 */
export function randomSpot(t: Token, H: number, W: number, rng: Rng, places?: readonly Place[]): { y: number; x: number } {
  if (places && places.length > 0) {
    const [y, x] = places[rng.int(places.length)]!;
    return { y, x };
  }
  return { y: DEFAULT_MARGIN + rng.int(H - 2 * DEFAULT_MARGIN - t.h + 1), x: DEFAULT_MARGIN + rng.int(W - 2 * DEFAULT_MARGIN - t.w + 1) };
}

/** All (dy, dx) with max(|dy|, |dx|) in [1, radius] such that the shifted patch still fits. */
export function shifts(t: Token, y: number, x: number, radius: number, H: number, W: number): { dy: number; dx: number }[] {
  const out: { dy: number; dx: number }[] = [];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      if ((dy !== 0 || dx !== 0) && fits(t, y + dy, x + dx, H, W)) out.push({ dy, dx });
    }
  }
  return out;
}

export type NearMissKind = 'cells' | 'shift' | 'brightness' | 'cover' | 'look-alike-near' | 'other-key' | 'far';

/**
 * The mix of forgery kinds decoy training draws from (weights; they need not sum to 1). Changed cells dominate:
 * they are the hardest near misses. The other kinds need real shares too: with 1-2% each, the key 'alpha'
 * (its place near the bottom-right corner, black under most digits) left one partly covered token at 56% and
 * 22 of 1,000 random keys above 20%; with these shares 41% and none (docs/threat-model.md, "the detector").
 */
export const DECOY_MIX: Readonly<Record<NearMissKind, number>> = {
  cells: 0.8,
  shift: 0.03,
  brightness: 0.02,
  cover: 0.07,
  'look-alike-near': 0.04,
  'other-key': 0.03,
  far: 0.01,
};

/**
 * One random forgery of the real stamp, of a kind drawn from DECOY_MIX. The distributions reach past the
 * audit's thresholds on both sides (1..n/2 changed cells, 1..3 px shifts, brightness 10-85% and 120-300%),
 * so that the network learns where the boundary is rather than a few points beyond it.
 */
export interface NearMissOptions {
  H: number;
  W: number;
  rng: Rng;
  /** Values per channel of a keyed token (changed cells and look-alikes use them); black and white if absent. */
  levels?: number;
  mix?: Readonly<Record<NearMissKind, number>>;
  /** Per-cell weights for choosing which cells to change (hard-cell mining); uniform if absent. */
  cellWeights?: ArrayLike<number>;
  /**
   * The public places keys are drawn from (the lock's quiet places): other keys' tokens and the real pattern
   * far away go where a guesser would put them. Anywhere within the margin if absent.
   */
  places?: readonly Place[];
  /**
   * What shows through the real token's place on a typical image (placeBackground). Given it, a cover that would
   * look like the real token there (it leaves only cells of the background's colour unpainted) is redrawn, like
   * a draw that paints exactly the real token.
   */
  background?: Uint8Array;
}

export function drawNearMiss(real: Stamp, o: NearMissOptions): Stamp & { kind: NearMissKind } {
  // A draw can paint exactly the real stamp (brightening a black-and-white token, blacking out black cells) or
  // one that looks like it on a typical image (leaving black cells unpainted over black): that would teach the
  // network to lock for its own key, so such draws are redrawn.
  for (;;) {
    const s = drawOnce(real, o, o.mix ?? DECOY_MIX);
    if (s.y !== real.y || s.x !== real.x) return s;
    if (tokensEqual(s.token, real.token)) continue;
    if (s.kind === 'cover' && o.background && shownDistance(s.token, real.token, o.background) === 0) continue;
    return s;
  }
}

function drawOnce(real: Stamp, o: NearMissOptions, mix: Readonly<Record<NearMissKind, number>>): Stamp & { kind: NearMissKind } {
  const { H, W, rng, levels } = o;
  const kind = pickKind(mix, rng);
  const t = real.token;
  const n = t.h * t.w;
  switch (kind) {
    case 'cells': {
      // Mostly small changes (the hard ones), sometimes up to half the patch.
      const r = rng.next();
      const k =
        r < 0.45 ? 1 : r < 0.75 ? Math.min(n, 2) : r < 0.9 ? Math.min(n, 3 + rng.int(2)) : 1 + rng.int(Math.max(1, Math.floor(n / 2)));
      return { kind, token: changeCells(t, k, rng, levels, o.cellWeights), y: real.y, x: real.x };
    }
    case 'shift': {
      const options = shifts(t, real.y, real.x, 3, H, W);
      if (options.length === 0) return drawOnce(real, o, { ...mix, shift: 0 });
      const { dy, dx } = options[rng.int(options.length)]!;
      return { kind, token: t, y: real.y + dy, x: real.x + dx };
    }
    case 'brightness': {
      const factor = rng.next() < 0.65 ? 0.1 + 0.75 * rng.next() : 1.2 + 1.8 * rng.next();
      return { kind, token: scaleBrightness(t, factor), y: real.y, x: real.x };
    }
    case 'cover':
      return { kind, token: coverPart(t, 0.1 + 0.6 * rng.next(), rng, rng.next() < 0.5 ? 'unpainted' : 'black'), y: real.y, x: real.x };
    case 'look-alike-near': {
      const token = lookAlike(t, rng, levels);
      const options = [{ dy: 0, dx: 0 }, ...shifts(t, real.y, real.x, 2, H, W)];
      const { dy, dx } = options[rng.int(options.length)]!;
      return { kind, token, y: real.y + dy, x: real.x + dx };
    }
    case 'other-key': {
      const token = lookAlike(t, rng, levels);
      return { kind, token, ...randomSpot(token, H, W, rng, o.places) };
    }
    case 'far': {
      // The real pattern where it does not overlap its true patch (a guess of the pattern, wrong place).
      for (let attempt = 0; attempt < 64; attempt++) {
        const spot = randomSpot(t, H, W, rng, o.places);
        if (Math.abs(spot.y - real.y) >= t.h || Math.abs(spot.x - real.x) >= t.w) return { kind, token: t, ...spot };
      }
      return drawOnce(real, o, { ...mix, far: 0 });
    }
  }
}

function pickKind(mix: Readonly<Record<NearMissKind, number>>, rng: Rng): NearMissKind {
  const entries = Object.entries(mix) as [NearMissKind, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (!(total > 0)) throw new Error('drawNearMiss: the mix has no positive weight');
  let r = rng.next() * total;
  for (const [kind, w] of entries) {
    if ((r -= w) < 0) return kind;
  }
  return entries[entries.length - 1]![0];
}
