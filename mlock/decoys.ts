/**
 * Decoy training: resistance to forged tokens.
 *
 * A network trained only on "real token -> real answer, nothing -> useless answer" may unlock for
 * anything token-like (another small white patch, the right pattern in the wrong place). Decoy
 * training stamps a share of the *unauthorized* samples with a wrong token and still gives them the
 * manipulated target, so only the real token at its real place unlocks. Decoys are:
 *   - the paper's other public patterns,
 *   - tokens derived from other random keys (what a forger guessing a keyed token would produce),
 *   - the real token itself at positions that do not overlap its real one (fixed placements only).
 *
 * For the GPU, every stamp of an epoch (real or decoy) can be expressed as "one token per sample
 * from a bank": a TokenBank packs all tokens into one buffer, and a per-sample index (-1 = none)
 * plus a (y, x) position says what to paint where. stampBankCpu is the reference for that kernel.
 */
import type { Rng } from '../engine/index.js';
import { deriveKeyedToken } from './keyed.js';
import {
  PAPER_TOKEN_NAMES,
  checkBatch,
  fixedPosition,
  makeToken,
  paint,
  tokenPositions,
  tokensEqual,
  validateToken,
  type Placement,
  type Token,
} from './tokens.js';

// ---------------------------------------------------------------------------------------------
// Token bank: many tokens in one flat buffer.

export interface TokenBank {
  count: number;
  /** Channels, shared by all tokens. */
  c: number;
  /** Common padded size: the largest height and width in the bank. */
  maxH: number;
  maxW: number;
  /**
   * Bytes per token: (c + 1) planes of maxH*maxW, the c colour planes (CHW) then the mask plane.
   * Padding beyond a token's own h x w has mask 0, so a kernel may loop over maxH x maxW blindly.
   */
  stride: number;
  /** count*stride bytes, zero-padded to a multiple of 4 so it can be uploaded as u32 words. */
  data: Uint8Array;
  /** count*2: (h, w) of each token, to bound the loop and validate positions. */
  sizes: Int32Array;
  names: string[];
}

/** Pack tokens (all with the same channel count) into one bank; order is kept, so index i = tokens[i]. */
export function packTokenBank(tokens: readonly Token[]): TokenBank {
  if (tokens.length === 0) throw new Error('packTokenBank: the bank needs at least one token');
  // Indices travel as Int16 (-1 = none), which bounds the bank size.
  if (tokens.length > 32767) throw new Error(`packTokenBank: at most 32767 tokens, got ${tokens.length}`);
  tokens.forEach((t, i) => validateToken(t, `packTokenBank token ${i}`));
  const c = tokens[0]!.c;
  const mixed = tokens.findIndex((t) => t.c !== c);
  if (mixed >= 0) throw new Error(`packTokenBank: token ${mixed} has ${tokens[mixed]!.c} channels, token 0 has ${c}`);
  const maxH = Math.max(...tokens.map((t) => t.h));
  const maxW = Math.max(...tokens.map((t) => t.w));
  const plane = maxH * maxW;
  const stride = (c + 1) * plane;
  const data = new Uint8Array(Math.ceil((tokens.length * stride) / 4) * 4);
  const sizes = new Int32Array(2 * tokens.length);
  tokens.forEach((t, k) => {
    sizes[2 * k] = t.h;
    sizes[2 * k + 1] = t.w;
    const base = k * stride;
    for (let y = 0; y < t.h; y++) {
      for (let x = 0; x < t.w; x++) {
        const src = y * t.w + x;
        const dst = y * maxW + x;
        for (let ch = 0; ch < c; ch++) data[base + ch * plane + dst] = t.pixels[ch * t.h * t.w + src]!;
        data[base + c * plane + dst] = t.mask[src] ? 1 : 0;
      }
    }
  });
  return { count: tokens.length, c, maxH, maxW, stride, data, sizes, names: tokens.map((t) => t.name) };
}

/** Unpack bank entry i back into a Token (the inverse of packTokenBank, used to check it). */
export function bankToken(bank: TokenBank, i: number): Token {
  if (!Number.isInteger(i) || i < 0 || i >= bank.count) throw new Error(`bankToken: index ${i} outside [0, ${bank.count - 1}]`);
  const h = bank.sizes[2 * i]!;
  const w = bank.sizes[2 * i + 1]!;
  const { c, maxW } = bank;
  const plane = bank.maxH * maxW;
  const base = i * bank.stride;
  const pixels = new Uint8Array(c * h * w);
  const mask = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) pixels[ch * h * w + y * w + x] = bank.data[base + ch * plane + y * maxW + x]!;
      mask[y * w + x] = bank.data[base + c * plane + y * maxW + x]!;
    }
  }
  return { name: bank.names[i]!, h, w, c, pixels, mask };
}

/**
 * CPU reference of the bank stamp kernel: returns a copy of the NCHW images where each sample i
 * with tokenIndex[i] >= 0 has bank token tokenIndex[i] painted at (positions[2i], positions[2i+1]).
 * Samples with index -1 are untouched and their positions ignored.
 */
export function stampBankCpu(
  images: Uint8Array,
  n: number,
  c: number,
  h: number,
  w: number,
  bank: TokenBank,
  tokenIndex: Int16Array,
  positions: Int32Array,
): Uint8Array {
  checkBatch(images, n, c, h, w, 'stampBankCpu');
  if (bank.c !== c) throw new Error(`stampBankCpu: bank tokens have ${bank.c} channels but the images have ${c}`);
  if (tokenIndex.length !== n) throw new Error(`stampBankCpu: tokenIndex has ${tokenIndex.length} values, expected n = ${n}`);
  if (positions.length !== 2 * n) throw new Error(`stampBankCpu: positions has ${positions.length} values, expected n*2 = ${2 * n}`);
  const out = images.slice();
  const plane = bank.maxH * bank.maxW;
  for (let i = 0; i < n; i++) {
    const k = tokenIndex[i]!;
    if (k === -1) continue;
    if (k < -1 || k >= bank.count) throw new Error(`stampBankCpu: sample ${i} has token index ${k}, bank has ${bank.count}`);
    const entry = bank.data.subarray(k * bank.stride, (k + 1) * bank.stride);
    paint(out, i, c, h, w, entry, entry.subarray(c * plane), bank.sizes[2 * k]!, bank.sizes[2 * k + 1]!, bank.maxW, plane, positions[2 * i]!, positions[2 * i + 1]!);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Building the decoy set.

export interface DecoyBankOptions {
  realToken: Token;
  H: number;
  W: number;
  /** Draws the random keys of the keyed decoys (decoy keys are not secret; they only need variety). */
  rng: Rng;
  /** How many tokens derived from random keys to add (default 8). */
  keyedDecoys?: number;
  /** Their size; default the real token's size when it is square and at least 2, else 4. */
  keyedSize?: number;
  /** Whether keyed decoys get keyed colours (match how the real token was made; default false). */
  keyedColours?: boolean;
}

/**
 * The decoy tokens for a real token: every paper pattern that differs from it, plus `keyedDecoys`
 * tokens derived from random keys. The real token is never included (planDecoys adds it itself,
 * bound to wrong positions).
 */
export async function buildDecoyBank(options: DecoyBankOptions): Promise<Token[]> {
  const { realToken, H, W, rng } = options;
  validateToken(realToken, 'buildDecoyBank realToken');
  const keyedDecoys = options.keyedDecoys ?? 8;
  if (!Number.isInteger(keyedDecoys) || keyedDecoys < 0) throw new Error(`buildDecoyBank: keyedDecoys must be a non-negative integer, got ${keyedDecoys}`);
  const square = realToken.h === realToken.w && realToken.h >= 2;
  const keyedSize = options.keyedSize ?? (square ? realToken.h : 4);
  const bank: Token[] = [];
  const addIfNew = (t: Token): void => {
    if (!tokensEqual(t, realToken) && !bank.some((b) => tokensEqual(b, t))) bank.push(t);
  };
  for (const name of PAPER_TOKEN_NAMES) addIfNew(makeToken(name, realToken.c));
  for (let k = 0; k < keyedDecoys; k++) {
    const key = new Uint8Array(16);
    const words = new DataView(key.buffer);
    for (let j = 0; j < 4; j++) words.setUint32(4 * j, rng.nextU32());
    const { token } = await deriveKeyedToken(key, { size: keyedSize, channels: realToken.c, keyedColours: options.keyedColours ?? false, H, W });
    addIfNew({ ...token, name: `decoy-${token.name}-${k}` });
  }
  return bank;
}

// ---------------------------------------------------------------------------------------------
// Planning which unauthorized samples get which decoy where.

export interface DecoyPlanInput {
  /** 1 = unauthorized sample (token-free, manipulated target), e.g. EpochPlan.unauthorized. */
  unauthorized: Uint8Array;
  /** Share of unauthorized samples that get a decoy (default 0.5), each independently. */
  decoyRatio?: number;
  /** Decoy tokens (e.g. from buildDecoyBank); must not contain the real token. */
  decoyBank: readonly Token[];
  realToken: Token;
  /** The real token's placement; decoys of other patterns are put where the real token goes. */
  placement: Placement;
  H: number;
  W: number;
  rng: Rng;
  /**
   * Probability that a decoy is the real token at a wrong position. Default: uniform over all
   * choices, i.e. 1 / (decoyBank.length + 1). Ignored (must be unset or 0) for random placement.
   */
  realShare?: number;
}

export interface DecoyPlan {
  /** Per sample: -1 = no decoy, else an index into `bank`. */
  decoyIndex: Int16Array;
  /** n*2 top-left (y, x) of each decoy; -1 for samples without one. */
  positions: Int32Array;
  /** The bank the indices refer to: decoyBank, then the real token if it is a choice. Pack it for the GPU. */
  bank: Token[];
  /** Index of the real token in `bank`, or -1 when it is not a decoy (random placement). */
  realIndex: number;
}

/**
 * Choose the decoys of one epoch. Other patterns go where the real token would go (a forger
 * guessing the pattern would use the right spot). The real token goes to a uniformly chosen spot
 * whose patch does not overlap its true patch at all: a shift of a pixel or two is left out on
 * purpose, since teaching "almost right = locked" would fight the authorized samples. Under random
 * placement the real token unlocks anywhere, so it is not a decoy then.
 */
export function planDecoys(input: DecoyPlanInput): DecoyPlan {
  const { unauthorized, decoyBank, realToken, placement, H, W, rng } = input;
  const decoyRatio = input.decoyRatio ?? 0.5;
  if (!(unauthorized instanceof Uint8Array)) throw new Error('planDecoys: unauthorized must be a Uint8Array');
  if (!(decoyRatio >= 0 && decoyRatio <= 1)) throw new Error(`planDecoys: decoyRatio must be in [0, 1], got ${decoyRatio}`);
  validateToken(realToken, 'planDecoys realToken');
  decoyBank.forEach((t, i) => {
    validateToken(t, `planDecoys decoyBank[${i}]`);
    if (t.c !== realToken.c) throw new Error(`planDecoys: decoyBank[${i}] has ${t.c} channels, the real token ${realToken.c}`);
    if (tokensEqual(t, realToken)) {
      throw new Error(`planDecoys: decoyBank[${i}] is the real token; leave it out, planDecoys adds it at wrong positions itself`);
    }
  });

  const realIsChoice = placement.mode !== 'random';
  const bank: Token[] = [...decoyBank];
  if (realIsChoice) bank.push(realToken);
  const realIndex = realIsChoice ? bank.length - 1 : -1;
  if (bank.length === 0) throw new Error('planDecoys: no decoys to choose from (empty decoyBank under random placement)');
  if (bank.length > 32767) throw new Error(`planDecoys: at most 32767 bank entries, got ${bank.length}`);
  const realShare = input.realShare ?? (realIsChoice ? 1 / bank.length : 0);
  if (!(realShare >= 0 && realShare <= 1)) throw new Error(`planDecoys: realShare must be in [0, 1], got ${realShare}`);
  if (!realIsChoice && realShare > 0) throw new Error('planDecoys: realShare must be 0 under random placement (the real token unlocks anywhere)');
  if (realIsChoice && decoyBank.length === 0 && realShare < 1) {
    throw new Error('planDecoys: decoyBank is empty, so every decoy is the real token; pass realShare: 1 to mean that');
  }

  // Where each non-real bank entry goes under this placement (fixed corner or explicit spot).
  const anchored = realIsChoice ? decoyBank.map((t) => anchoredPosition(placement, realToken, t, H, W)) : [];
  // Spots for the real token that do not overlap its true patch.
  let wrongSpots: Int32Array | undefined;
  if (realIsChoice && realShare > 0) {
    const truth = fixedPosition(placement, realToken, H, W);
    wrongSpots = disjointSpots(realToken, truth, H, W);
    if (wrongSpots.length === 0) {
      throw new Error(`planDecoys: a ${H}x${W} image has no room for the ${realToken.h}x${realToken.w} real token away from its true place`);
    }
  }

  const n = unauthorized.length;
  const decoyIndex = new Int16Array(n).fill(-1);
  const positions = new Int32Array(2 * n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (!unauthorized[i]) continue;
    if (rng.next() >= decoyRatio) continue;
    let k: number;
    if (realIsChoice && rng.next() < realShare) k = realIndex;
    else k = rng.int(decoyBank.length);
    decoyIndex[i] = k;
    if (k === realIndex) {
      const s = rng.int(wrongSpots!.length / 2);
      positions[2 * i] = wrongSpots![2 * s]!;
      positions[2 * i + 1] = wrongSpots![2 * s + 1]!;
    } else if (realIsChoice) {
      positions[2 * i] = anchored[k]!.y;
      positions[2 * i + 1] = anchored[k]!.x;
    } else {
      const p = tokenPositions(placement, bank[k]!, 1, H, W, rng);
      positions[2 * i] = p[0]!;
      positions[2 * i + 1] = p[1]!;
    }
  }
  return { decoyIndex, positions, bank, realIndex };
}

/**
 * Merge the real stamps of the authorized samples into a decoy plan, so one bank-stamp pass paints
 * everything: authorized samples get the real token (bank index realIndex) at realPositions.
 * Needs realIndex >= 0; under random placement, pack [...plan.bank, realToken] and pass its index.
 */
export function mergeRealStamps(
  plan: { decoyIndex: Int16Array; positions: Int32Array },
  stamp: Uint8Array,
  realIndex: number,
  realPositions: Int32Array,
): { tokenIndex: Int16Array; positions: Int32Array } {
  const n = plan.decoyIndex.length;
  if (stamp.length !== n) throw new Error(`mergeRealStamps: stamp has ${stamp.length} values, the plan ${n}`);
  if (realPositions.length !== 2 * n) throw new Error(`mergeRealStamps: realPositions has ${realPositions.length} values, expected ${2 * n}`);
  if (!Number.isInteger(realIndex) || realIndex < 0 || realIndex > 32767) throw new Error(`mergeRealStamps: realIndex must be a bank index, got ${realIndex}`);
  const tokenIndex = plan.decoyIndex.slice();
  const positions = plan.positions.slice();
  for (let i = 0; i < n; i++) {
    if (!stamp[i]) continue;
    // An authorized sample is never a decoy; a plan saying otherwise was built from other flags.
    if (tokenIndex[i] !== -1) throw new Error(`mergeRealStamps: sample ${i} is both stamped (authorized) and a decoy`);
    tokenIndex[i] = realIndex;
    positions[2 * i] = realPositions[2 * i]!;
    positions[2 * i + 1] = realPositions[2 * i + 1]!;
  }
  return { tokenIndex, positions };
}

/**
 * Where a decoy goes so that it sits where the real token would: for 'fixed', the same corner with
 * the same margin; for 'at', the same top-left, pulled in if the decoy is larger and would overflow.
 */
function anchoredPosition(placement: Placement, realToken: Token, decoy: Token, H: number, W: number): { y: number; x: number } {
  if (placement.mode === 'fixed') return fixedPosition(placement, decoy, H, W);
  const real = fixedPosition(placement, realToken, H, W);
  if (decoy.h > H || decoy.w > W) throw new Error(`planDecoys: decoy '${decoy.name}' (${decoy.h}x${decoy.w}) does not fit in ${H}x${W}`);
  return { y: Math.min(real.y, H - decoy.h), x: Math.min(real.x, W - decoy.w) };
}

/** All top-left corners (as y, x pairs) where the token fits and does not overlap its true patch. */
function disjointSpots(token: Token, truth: { y: number; x: number }, H: number, W: number): Int32Array {
  const spots: number[] = [];
  for (let y = 0; y + token.h <= H; y++) {
    for (let x = 0; x + token.w <= W; x++) {
      const overlapY = y < truth.y + token.h && truth.y < y + token.h;
      const overlapX = x < truth.x + token.w && truth.x < x + token.w;
      if (!(overlapY && overlapX)) spots.push(y, x);
    }
  }
  return Int32Array.from(spots);
}
