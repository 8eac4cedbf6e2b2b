/**
 * Keyed tokens: an M-LOCK token derived from a secret key, so that nobody without the key can produce it.
 *
 * The paper's tokens are a handful of public 3x3 patterns at a public place: a forger tries them all. A keyed
 * token draws everything a forger would have to guess from HMAC-SHA256 of the key (WebCrypto, in Node and
 * browsers alike): the value of every cell of an s x s patch, on every channel, from `levels` evenly spaced
 * values (black and white for the default 2), and the patch's position, from a public set of places (the
 * training set's quiet quarter, quiet-places.ts; or anywhere). With the greyscale defaults a guess is one of
 * 2^64 patterns at one of 90 quiet places on a 28x28 image (70.5 bits); a trained network also accepts
 * tokens near the real one, which the audit measures and subtracts (mlock/audit.ts, docs/threat-model.md).
 * Black and white cells rather than more levels: the network learns a much sharper detector for them
 * (measured: with 3 levels, 2 changed cells of 36 still unlocked at 63% on average, with 2 levels at 24%).
 *
 * What may be stored with a model (tokenGeometry) is the geometry only: patch size, channels, levels, the
 * placement *kind* and the public place set. Never the key, the cells, or the keyed position: any of them
 * would let a reader forge it.
 */
import { DEFAULT_MARGIN, validateToken, type Place, type Placement, type Token } from './tokens.js';

export interface KeyedTokenOptions {
  /** Patch height = width in cells (pixels); default 8. */
  size?: number;
  /** Image channels: 1 (greyscale) or 3 (RGB); every channel of every cell is keyed. */
  channels: number;
  /** Values per channel, evenly spaced over 0..255 (default 2: black and white). At least 2. */
  levels?: number;
  /** Derive the position from the key too (default true); false leaves the position to a public placement. */
  keyedPosition?: boolean;
  /**
   * The public set the key picks the position from (quiet-places.ts), top-left corners in row-major order;
   * default every place DEFAULT_MARGIN clear of the borders.
   */
  places?: readonly Place[];
  /** Image height and width; the token must fit with the 1-pixel margin. */
  H: number;
  W: number;
}

export interface KeyedToken {
  token: Token;
  /** Top-left corner, when keyedPosition; use it as `{ mode: 'at', ...position }`. Secret. */
  position?: { y: number; x: number };
}

/** Version tag of the derivation; changing the scheme must change it, or old keys change meaning. */
const DERIVATION_TAG = 'mlock-token-v2';

export const DEFAULT_TOKEN_SIZE = 8;
export const DEFAULT_LEVELS = 2;

/** The value (0..255) of grey level `k` of `levels`, evenly spaced with both ends included. */
export function levelValue(k: number, levels: number): number {
  return Math.round((255 * k) / (levels - 1));
}

/**
 * Derive a token (and, by default, its position) from a secret key. Each channel value of each cell is one
 * of `levels` levels, drawn without modulo bias from the HMAC stream by rejection; the position is uniform
 * over every spot where the patch stays DEFAULT_MARGIN pixels clear of the borders.
 */
export async function deriveKeyedToken(key: string | Uint8Array, options: KeyedTokenOptions): Promise<KeyedToken> {
  const { channels, H, W } = options;
  const size = options.size ?? DEFAULT_TOKEN_SIZE;
  const levels = options.levels ?? DEFAULT_LEVELS;
  const keyedPosition = options.keyedPosition ?? true;
  checkGeometry('deriveKeyedToken', size, channels, levels, H, W);

  const info = `${DERIVATION_TAG}|size=${size}|c=${channels}|levels=${levels}|position=${keyedPosition ? 1 : 0}|H=${H}|W=${W}`;
  const hmac = await importHmacKey(key);
  const n = size * size;
  const stream = new KeyedStream(hmac, `${info}|cells`);
  const pixels = new Uint8Array(channels * n);
  for (let i = 0; i < pixels.length; i++) pixels[i] = levelValue(await stream.uniform(levels), levels);
  const token: Token = { name: `keyed-${size}x${size}`, h: size, w: size, c: channels, pixels, mask: new Uint8Array(n).fill(1) };
  stream.wipe();
  if (!keyedPosition) return { token };

  if (options.places) {
    validatePlaces(options.places, size, H, W, 'deriveKeyedToken');
    // Its own stream label: a key picks unrelated places from a set and from the whole image.
    const pick = new KeyedStream(hmac, `${info}|position-in-set|count=${options.places.length}`);
    const [y, x] = options.places[await pick.uniform(options.places.length)]!;
    pick.wipe();
    return { token, position: { y, x } };
  }
  const spots = new KeyedStream(hmac, `${info}|position`);
  const rangeY = H - 2 * DEFAULT_MARGIN - size + 1;
  const rangeX = W - 2 * DEFAULT_MARGIN - size + 1;
  const position = { y: DEFAULT_MARGIN + (await spots.uniform(rangeY)), x: DEFAULT_MARGIN + (await spots.uniform(rangeX)) };
  spots.wipe();
  return { token, position };
}

/** How many distinct tokens (patterns x positions) the derivation can produce for a geometry, in bits. */
export function keySpaceBits(g: {
  size: number;
  channels: number;
  levels: number;
  keyedPosition: boolean;
  H: number;
  W: number;
  /** The size of the public place set, when the position is drawn from one. */
  places?: number;
}): number {
  const patternBits = g.size * g.size * g.channels * Math.log2(g.levels);
  if (!g.keyedPosition) return patternBits;
  return patternBits + Math.log2(g.places ?? placeCount(g.size, g.H, g.W));
}

/** Every place a size x size patch can take DEFAULT_MARGIN clear of the borders of an H x W image. */
export function placeCount(size: number, H: number, W: number): number {
  return (H - 2 * DEFAULT_MARGIN - size + 1) * (W - 2 * DEFAULT_MARGIN - size + 1);
}

/**
 * Check a public place set (from a model file, say): a non-empty list of distinct [y, x] top-left corners in
 * row-major order, each keeping a size x size patch DEFAULT_MARGIN clear of the borders.
 */
export function validatePlaces(places: unknown, size: number, H: number, W: number, where: string): asserts places is readonly Place[] {
  if (!Array.isArray(places) || places.length === 0) throw new Error(`${where}: places must be a non-empty list of [y, x] corners`);
  const top = H - DEFAULT_MARGIN - size;
  const left = W - DEFAULT_MARGIN - size;
  let previous = -1;
  places.forEach((p: unknown, i) => {
    const ok = Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v));
    const [y, x] = ok ? (p as [number, number]) : [NaN, NaN];
    if (!ok || y < DEFAULT_MARGIN || x < DEFAULT_MARGIN || y > top || x > left) {
      throw new Error(
        `${where}: places[${i}] = ${JSON.stringify(p)} is not a corner where a ${size}x${size} patch fits ${DEFAULT_MARGIN} px clear of a ${H}x${W} image's borders`,
      );
    }
    const index = y * W + x;
    if (index <= previous) throw new Error(`${where}: places must be distinct and in row-major order (places[${i}] = [${y}, ${x}])`);
    previous = index;
  });
}

function checkGeometry(where: string, size: number, channels: number, levels: number, H: number, W: number): void {
  if (!Number.isInteger(size) || size < 2) throw new Error(`${where}: size must be an integer >= 2, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new Error(`${where}: channels must be 1 or 3, got ${channels}`);
  if (!Number.isInteger(levels) || levels < 2 || levels > 256)
    throw new Error(`${where}: levels must be an integer in [2, 256], got ${levels}`);
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1)
    throw new Error(`${where}: image size must be positive integers, got ${H}x${W}`);
  if (size + 2 * DEFAULT_MARGIN > H || size + 2 * DEFAULT_MARGIN > W) {
    throw new Error(`${where}: a ${size}x${size} token with a ${DEFAULT_MARGIN}-pixel margin does not fit in a ${H}x${W} image`);
  }
}

/** A short fingerprint of a token's geometry (a label for mismatch errors; it ignores the pixels on purpose). */
export function tokenFingerprint(token: Token): string {
  validateToken(token, 'tokenFingerprint');
  // FNV-1a 32-bit: tiny and dependency-free; this is a label, not a security primitive.
  const text = `mlock-geometry-v1|h=${token.h}|w=${token.w}|c=${token.c}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** Placement as it may be saved: a key-derived position is reduced to 'secret' and the public set it came from. */
export type SavedPlacement = { mode: 'fixed'; margin: number } | { mode: 'random' } | { mode: 'secret'; places?: Place[] };

export interface TokenGeometry {
  version: 2;
  h: number;
  w: number;
  c: number;
  /** Grey levels per channel of a keyed token; absent for the paper's patterns. */
  levels?: number;
  placement: SavedPlacement;
  fingerprint: string;
}

/** Metadata safe to store in a model file; never the key, the name, the pixels, or an explicit position. */
export function tokenGeometry(token: Token, placement: Placement, levels?: number): TokenGeometry {
  validateToken(token, 'tokenGeometry');
  let saved: SavedPlacement;
  if (placement.mode === 'fixed') {
    const margin = placement.margin ?? DEFAULT_MARGIN;
    if (!Number.isInteger(margin) || margin < 0) throw new Error(`tokenGeometry: margin must be a non-negative integer, got ${margin}`);
    saved = { mode: 'fixed', margin };
  } else if (placement.mode === 'random') {
    saved = { mode: 'random' };
  } else if (placement.mode === 'at') {
    saved = placement.among ? { mode: 'secret', places: placement.among.map(([y, x]) => [y, x] as const) } : { mode: 'secret' };
  } else {
    throw new Error(`tokenGeometry: unknown placement mode '${(placement as { mode: string }).mode}'`);
  }
  const g: TokenGeometry = { version: 2, h: token.h, w: token.w, c: token.c, placement: saved, fingerprint: tokenFingerprint(token) };
  if (levels !== undefined) g.levels = levels;
  return g;
}

/** Zero-fill key material (or anything derived from it) so it does not linger in memory. */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}

async function importHmacKey(key: string | Uint8Array): Promise<CryptoKey> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle)
    throw new Error('deriveKeyedToken: WebCrypto (globalThis.crypto.subtle) is not available; use a secure context or Node >= 20');
  let raw: Uint8Array<ArrayBuffer>;
  if (typeof key === 'string') raw = new TextEncoder().encode(key);
  else if (key instanceof Uint8Array)
    raw = new Uint8Array(key); // our own copy, so we can wipe it
  else throw new Error('deriveKeyedToken: key must be a string or a Uint8Array');
  if (raw.length === 0) throw new Error('deriveKeyedToken: key must not be empty');
  try {
    // Non-extractable: the CryptoKey can sign but its bytes cannot be read back out.
    return await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  } finally {
    wipe(raw);
  }
}

/** Keyed pseudo-random bytes, HMAC(key, info|block) for block 0, 1, ..., consumed as unbiased integers. */
class KeyedStream {
  private block = 0;
  private bytes = new Uint8Array(0);
  private at = 0;

  constructor(
    private readonly key: CryptoKey,
    private readonly info: string,
  ) {}

  /** A uniform integer in [0, n), n <= 2^16, by rejection so that no value is favoured. */
  async uniform(n: number): Promise<number> {
    const wide = n > 256;
    const span = wide ? 65536 : 256;
    const limit = span - (span % n);
    for (;;) {
      const v = wide ? ((await this.byte()) << 8) | (await this.byte()) : await this.byte();
      if (v < limit) return v % n;
    }
  }

  wipe(): void {
    wipe(this.bytes);
  }

  private async byte(): Promise<number> {
    if (this.at === this.bytes.length) {
      wipe(this.bytes);
      const msg = new TextEncoder().encode(`${this.info}|${this.block++}`);
      this.bytes = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', this.key, msg));
      this.at = 0;
    }
    return this.bytes[this.at++]!;
  }
}
