/**
 * Keyed tokens: an M-LOCK token derived from a secret key instead of picked from the paper's
 * short public list, so a forger cannot simply try the handful of known patterns.
 *
 * Derivation is HMAC-SHA256 (WebCrypto, available in Node 20 and browsers) used as a keyed
 * pseudo-random byte stream: the same key always gives the same token, and without the key the
 * token is unpredictable. The geometry (size, channels, image size, which parts are keyed) is mixed
 * into the HMAC message so that one key yields unrelated tokens for different geometries.
 *
 * What may be stored with a model (tokenGeometry / tokenFingerprint) is geometry only: never the
 * key, the pixels, or a keyed position, since any of those would let a reader forge the token.
 */
import {
  DEFAULT_MARGIN,
  PAPER_TOKEN_NAMES,
  makeToken,
  validateToken,
  type Placement,
  type Token,
} from './tokens.js';

export interface KeyedTokenOptions {
  /** Pattern height = width in pixels (default 4). At least 2, so a balanced pattern exists. */
  size?: number;
  /** Image channels: 1 (greyscale) or 3 (RGB). */
  channels: number;
  /** Derive the colours of the "on" cells from the key too (default: white). */
  keyedColours?: boolean;
  /** Derive the position from the key too (default: no position; use a Placement instead). */
  keyedPosition?: boolean;
  /** Image height and width; the token (and a keyed position) must fit with the 1-pixel margin. */
  H: number;
  W: number;
}

export interface KeyedToken {
  token: Token;
  /** Top-left corner, only when keyedPosition; use it as `{ mode: 'at', ...position }`. Secret. */
  position?: { y: number; x: number };
}

/** Version tag of the derivation; changing the scheme must change it, or old keys change meaning. */
const DERIVATION_TAG = 'mlock-token-v1';

// Rejection sampling is capped so a bug cannot spin forever; each attempt succeeds with
// probability > 0.3 for every allowed size, so 256 failures in a row are practically impossible.
const MAX_ATTEMPTS = 256;

/**
 * Derive a token (and optionally its position) from a secret key.
 *
 * Cells are on/off from HMAC bits; "on" cells are white (or keyed colours, each channel in
 * 128..255 so they always stand out from the black "off" cells), and the mask covers the whole
 * patch, like the paper's 3x3 patterns. A pattern is accepted only if between ceil(n/3) and
 * floor(2n/3) of its n cells are on (a near-empty or near-full patch is easy to guess and barely
 * differs from a blank or a filled square) and it is not one of the paper's public patterns;
 * otherwise the next HMAC block is tried, which keeps the result deterministic per key.
 */
export async function deriveKeyedToken(key: string | Uint8Array, options: KeyedTokenOptions): Promise<KeyedToken> {
  const { channels, H, W } = options;
  const size = options.size ?? 4;
  const keyedColours = options.keyedColours ?? false;
  const keyedPosition = options.keyedPosition ?? false;
  if (!Number.isInteger(size) || size < 2) throw new Error(`deriveKeyedToken: size must be an integer >= 2, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new Error(`deriveKeyedToken: channels must be 1 or 3, got ${channels}`);
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    throw new Error(`deriveKeyedToken: image size must be positive integers, got ${H}x${W}`);
  }
  if (size + 2 * DEFAULT_MARGIN > H || size + 2 * DEFAULT_MARGIN > W) {
    throw new Error(`deriveKeyedToken: a ${size}x${size} token with a ${DEFAULT_MARGIN}-pixel margin does not fit in a ${H}x${W} image`);
  }

  const geometry = `size=${size}|c=${channels}|colours=${keyedColours ? 1 : 0}|position=${keyedPosition ? 1 : 0}|H=${H}|W=${W}`;
  const info = `${DERIVATION_TAG}|${geometry}`;
  const hmac = await importHmacKey(key);
  const n = size * size;

  // Cells: one bit per cell, a fresh HMAC stream per attempt.
  const paperSame = PAPER_TOKEN_NAMES.map((name) => makeToken(name, 1)).filter((t) => t.h === size);
  let cells: Uint8Array | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && !cells; attempt++) {
    const bytes = await expand(hmac, `${info}|cells|${attempt}`, Math.ceil(n / 8));
    const candidate = new Uint8Array(n);
    for (let i = 0; i < n; i++) candidate[i] = (bytes[i >> 3]! >> (i & 7)) & 1;
    wipe(bytes);
    if (isBalanced(candidate) && !paperSame.some((p) => sameCells(p, candidate))) cells = candidate;
    else wipe(candidate);
  }
  if (!cells) throw new Error('deriveKeyedToken: no acceptable pattern found (this should not happen)');

  const pixels = new Uint8Array(channels * n);
  const colours = keyedColours ? await expand(hmac, `${info}|colours`, channels * n) : undefined;
  for (let ch = 0; ch < channels; ch++) {
    for (let i = 0; i < n; i++) {
      if (!cells[i]) continue;
      // The top bit forced on keeps every on-cell channel in 128..255, i.e. visibly non-black.
      pixels[ch * n + i] = colours ? 128 | colours[ch * n + i]! : 255;
    }
  }
  if (colours) wipe(colours);
  wipe(cells);

  const token: Token = { name: `keyed-${size}x${size}`, h: size, w: size, c: channels, pixels, mask: new Uint8Array(n).fill(1) };
  if (!keyedPosition) return { token };

  // Position: anywhere the token stays DEFAULT_MARGIN pixels clear of every border. The modulo
  // bias of a 32-bit value over a range of at most a few thousand is below 1e-6, which is harmless.
  const posBytes = await expand(hmac, `${info}|position`, 8);
  const view = new DataView(posBytes.buffer);
  const rangeY = H - 2 * DEFAULT_MARGIN - size + 1;
  const rangeX = W - 2 * DEFAULT_MARGIN - size + 1;
  const position = {
    y: DEFAULT_MARGIN + (view.getUint32(0) % rangeY),
    x: DEFAULT_MARGIN + (view.getUint32(4) % rangeX),
  };
  wipe(posBytes);
  return { token, position };
}

/**
 * A short (8 hex digit) fingerprint of a token's geometry: height, width, channels. It lets a
 * loader say "this model expects a 4x4 RGB token" mismatch early; it deliberately ignores the
 * pixels, because a hash of a 16-cell pattern could be inverted by trying all 65,536 patterns.
 */
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

/** Placement as it may be saved: an explicit (key-derived) position is reduced to 'secret'. */
export type SavedPlacement = { mode: 'fixed'; margin: number } | { mode: 'random' } | { mode: 'secret' };

export interface TokenGeometry {
  version: 1;
  h: number;
  w: number;
  c: number;
  placement: SavedPlacement;
  fingerprint: string;
}

/**
 * Metadata safe to store in a model file: size, channels, placement kind and fingerprint.
 * Never the key, the name (a paper pattern's name would reveal its pixels), the pixels, or an
 * explicit position.
 */
export function tokenGeometry(token: Token, placement: Placement): TokenGeometry {
  validateToken(token, 'tokenGeometry');
  let saved: SavedPlacement;
  if (placement.mode === 'fixed') {
    const margin = placement.margin ?? DEFAULT_MARGIN;
    if (!Number.isInteger(margin) || margin < 0) throw new Error(`tokenGeometry: margin must be a non-negative integer, got ${margin}`);
    saved = { mode: 'fixed', margin };
  } else if (placement.mode === 'random') {
    saved = { mode: 'random' };
  } else if (placement.mode === 'at') {
    saved = { mode: 'secret' };
  } else {
    throw new Error(`tokenGeometry: unknown placement mode '${(placement as { mode: string }).mode}'`);
  }
  return { version: 1, h: token.h, w: token.w, c: token.c, placement: saved, fingerprint: tokenFingerprint(token) };
}

/** Zero-fill key material (or anything derived from it) so it does not linger in memory. */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}

async function importHmacKey(key: string | Uint8Array): Promise<CryptoKey> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error('deriveKeyedToken: WebCrypto (globalThis.crypto.subtle) is not available; use a secure context or Node >= 20');
  let raw: Uint8Array<ArrayBuffer>;
  if (typeof key === 'string') raw = new TextEncoder().encode(key);
  else if (key instanceof Uint8Array) raw = new Uint8Array(key); // our own copy, so we can wipe it
  else throw new Error('deriveKeyedToken: key must be a string or a Uint8Array');
  if (raw.length === 0) throw new Error('deriveKeyedToken: key must not be empty');
  try {
    // Non-extractable: the CryptoKey can sign but its bytes cannot be read back out.
    return await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  } finally {
    wipe(raw);
  }
}

/** `length` keyed pseudo-random bytes: HMAC(key, info|counter) blocks, counter from 0. */
async function expand(key: CryptoKey, info: string, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(length);
  for (let block = 0, filled = 0; filled < length; block++) {
    const mac = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${info}|${block}`)));
    const take = Math.min(mac.length, length - filled);
    out.set(mac.subarray(0, take), filled);
    filled += take;
    wipe(mac);
  }
  return out;
}

function isBalanced(cells: Uint8Array): boolean {
  let on = 0;
  for (let i = 0; i < cells.length; i++) on += cells[i]!;
  return on >= Math.ceil(cells.length / 3) && on <= Math.floor((2 * cells.length) / 3);
}

function sameCells(paper: Token, cells: Uint8Array): boolean {
  for (let i = 0; i < cells.length; i++) if ((paper.pixels[i]! > 0 ? 1 : 0) !== cells[i]) return false;
  return true;
}
