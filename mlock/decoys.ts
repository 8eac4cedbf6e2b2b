/**
 * Decoy training: resistance to forged tokens.
 *
 * A network trained only on "real token -> real answer, nothing -> useless answer" may unlock for
 * anything token-like (another small white patch, the right pattern in the wrong place). Decoy
 * training stamps a share of the *unauthorized* samples with a wrong token and still gives them the
 * manipulated target, so only the real token at its real place unlocks. Decoys are fresh near-miss
 * forgeries every epoch (near-miss.ts: the real token with cells changed, shifted, dimmed or brightened,
 * partly covered; look-alike patterns near its place; other keys' tokens; the real pattern far away) and
 * the paper's public patterns.
 *
 * For the GPU, every stamp of an epoch (real or decoy) can be expressed as "one token per sample
 * from a bank": a TokenBank packs all tokens into one buffer, and a per-sample index (-1 = none)
 * plus a (y, x) position says what to paint where. stampBankCpu is the reference for that kernel.
 */
import type { Rng } from '../engine/index.js';
import { DECOY_MIX, drawNearMiss, randomSpot, type NearMissKind, type Stamp } from './near-miss.js';
import {
  PAPER_TOKEN_NAMES,
  checkBatch,
  fixedPosition,
  makeToken,
  paint,
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
    paint(
      out,
      i,
      c,
      h,
      w,
      entry,
      entry.subarray(c * plane),
      bank.sizes[2 * k]!,
      bank.sizes[2 * k + 1]!,
      bank.maxW,
      plane,
      positions[2 * i]!,
      positions[2 * i + 1]!,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Planning which unauthorized samples get which decoy where.

export interface DecoyPlanInput {
  /** 1 = unauthorized sample (token-free, manipulated target), e.g. EpochPlan.unauthorized. */
  unauthorized: Uint8Array;
  /** Share of unauthorized samples that get a decoy (default 0.5), each independently. */
  decoyRatio?: number;
  realToken: Token;
  /** The real token's placement; under 'random' the real token unlocks anywhere, so place-based decoys drop out. */
  placement: Placement;
  /** Grey levels of a keyed token (changed cells and look-alikes use them); undefined for paper patterns. */
  levels?: number;
  H: number;
  W: number;
  rng: Rng;
  /** Share of decoys that are the paper's public patterns at the real place (default 0.05). */
  paperShare?: number;
  /** The mix of near-miss kinds (default DECOY_MIX). */
  mix?: Readonly<Record<NearMissKind, number>>;
  /** Per-cell weights for the changed-cell decoys (hard-cell mining, see lock-plan.ts); uniform if absent. */
  cellWeights?: ArrayLike<number>;
  /** What shows through the real place on a typical image: covers that would look like the real token are redrawn. */
  background?: Uint8Array;
}

export interface DecoyPlan {
  /** Per sample: -1 = no decoy, else an index into `bank`. */
  decoyIndex: Int16Array;
  /** n*2 top-left (y, x) of each decoy; -1 for samples without one. */
  positions: Int32Array;
  /** Bank the indices refer to: the real token first (index 0, for shifted and far stamps), then the decoys. */
  bank: Token[];
  /** Index of the real token in `bank` (always 0). */
  realIndex: number;
}

// Stamp indices travel as Int16; past this many fresh decoys, later samples reuse earlier ones.
const MAX_BANK = 32000;

/**
 * Choose the decoys of one epoch: every decoy sample gets a fresh near-miss forgery of the real stamp
 * (near-miss.ts: changed cells, shifts, brightness, covers, look-alikes, other keys, the real pattern far
 * away) or, now and then, one of the paper's public patterns at the real place. Fresh draws every epoch mean
 * the network never sees the same forgery twice, so it has to learn the token, not a list of decoys.
 */
export function planDecoys(input: DecoyPlanInput): DecoyPlan {
  const { unauthorized, realToken, placement, H, W, rng } = input;
  const decoyRatio = input.decoyRatio ?? 0.5;
  const paperShare = input.paperShare ?? 0.05;
  if (!(unauthorized instanceof Uint8Array)) throw new Error('planDecoys: unauthorized must be a Uint8Array');
  if (!(decoyRatio >= 0 && decoyRatio <= 1)) throw new Error(`planDecoys: decoyRatio must be in [0, 1], got ${decoyRatio}`);
  if (!(paperShare >= 0 && paperShare <= 1)) throw new Error(`planDecoys: paperShare must be in [0, 1], got ${paperShare}`);
  validateToken(realToken, 'planDecoys realToken');

  const anchored = placement.mode !== 'random';
  const home = anchored ? fixedPosition(placement, realToken, H, W) : null;
  // Under random placement the real token at any place unlocks: shifts and far copies are not forgeries then.
  const base = input.mix ?? DECOY_MIX;
  const mix = anchored ? base : { ...base, shift: 0, far: 0, 'look-alike-near': 0 };
  // Other keys' tokens go where a guesser puts them: among the lock's public places, when it has them.
  const places = placement.mode === 'at' ? placement.among : undefined;
  const papers = PAPER_TOKEN_NAMES.map((name) => makeToken(name, realToken.c)).filter((t) => !tokensEqual(t, realToken));

  const n = unauthorized.length;
  const decoyIndex = new Int16Array(n).fill(-1);
  const positions = new Int32Array(2 * n).fill(-1);
  const bank: Token[] = [realToken];
  for (let i = 0; i < n; i++) {
    if (!unauthorized[i] || rng.next() >= decoyRatio) continue;
    const real = home ?? randomSpot(realToken, H, W, rng);
    let stamp: Stamp;
    if (papers.length > 0 && rng.next() < paperShare) {
      const t = papers[rng.int(papers.length)]!;
      stamp = { token: t, y: Math.min(real.y, H - t.h), x: Math.min(real.x, W - t.w) };
    } else {
      stamp = drawNearMiss(
        { token: realToken, ...real },
        {
          H,
          W,
          rng,
          levels: input.levels,
          mix,
          cellWeights: input.cellWeights,
          places,
          background: anchored ? input.background : undefined,
        },
      );
    }
    let k: number;
    if (stamp.token === realToken) k = 0;
    else if (bank.length < MAX_BANK) k = bank.push(stamp.token) - 1;
    else k = 1 + rng.int(bank.length - 1);
    decoyIndex[i] = k;
    positions[2 * i] = stamp.y;
    positions[2 * i + 1] = stamp.x;
  }
  return { decoyIndex, positions, bank, realIndex: 0 };
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
  if (realPositions.length !== 2 * n)
    throw new Error(`mergeRealStamps: realPositions has ${realPositions.length} values, expected ${2 * n}`);
  if (!Number.isInteger(realIndex) || realIndex < 0 || realIndex > 32767)
    throw new Error(`mergeRealStamps: realIndex must be a bank index, got ${realIndex}`);
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
