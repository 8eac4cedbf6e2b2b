/**
 * M-LOCK's measurements, all against the true labels: authorized accuracy (real token stamped), unauthorized
 * accuracy (clean inputs), and forged-token accuracy: tokens of N random other keys, each of the paper's other
 * patterns, and the real token at other positions (the forger knows the scheme but not the key or the spot).
 */
import { Rng } from '../engine/index.js';
import { BatchLoader, type Normalization, type ImageDataset } from '../engine/data/index.js';
import { evaluate } from '../engine/train/index.js';
import type { Module } from '../engine/nn/index.js';
import { deriveKeyedToken } from './keyed.js';
import { LockPlan, type LockSettings } from './lock-plan.js';
import { fixedPosition, makeToken, PAPER_TOKEN_NAMES, tokensEqual, type Token } from './tokens.js';

export interface ForgedResult {
  kind: 'other-key' | 'paper-pattern' | 'wrong-position';
  name: string;
  accuracy: number;
}

export interface LockEvaluation {
  authorizedAccuracy: number;
  unauthorizedAccuracy: number;
  /** Mean over the forged tokens, and the worst case (highest accuracy a forger reached). */
  forgedAccuracy: number;
  forgedMaxAccuracy: number;
  forged: ForgedResult[];
  n: number;
}

export interface EvalSetup {
  model: Module;
  dataset: ImageDataset;
  settings: LockSettings;
  normalization: Normalization;
  batchSize?: number;
  /** Random other keys to try (default 10). */
  forgedKeys?: number;
  /** Wrong positions for the real token (default 4). */
  wrongPositions?: number;
  seed?: number;
  /** Whether keyed tokens use keyed colours (forged keys are made the same way). */
  keyedColours?: boolean;
  /** Forged tokens are measured on the first this-many samples (default 2000: +-1 point at 95%). */
  forgedSamples?: number;
}

function loaderFor(setup: EvalSetup, token: Token | null, positions: Int32Array): BatchLoader {
  const ds = setup.dataset;
  const plan = LockPlan.forEvaluation(setup.settings, ds.numClasses, ds.n, token, positions);
  return new BatchLoader(ds, { batchSize: setup.batchSize ?? 256, normalization: setup.normalization, patches: plan });
}

async function accuracyWith(setup: EvalSetup, token: Token | null, positions: Int32Array): Promise<number> {
  const loader = loaderFor(setup, token, positions);
  try {
    return (await evaluate(setup.model, loader)).accuracy;
  } finally {
    loader.dispose();
  }
}

function samePositionFor(setup: EvalSetup, token: Token, n: number): Int32Array {
  const ds = setup.dataset;
  const placement = setup.settings.placement;
  const rng = new Rng((setup.seed ?? 0) + 17);
  const out = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    if (placement.mode === 'random') {
      out[2 * i] = rng.int(ds.h - token.h + 1);
      out[2 * i + 1] = rng.int(ds.w - token.w + 1);
    } else {
      const p = fixedPosition(placement.mode === 'at' ? { mode: 'at', y: Math.min(placement.y, ds.h - token.h), x: Math.min(placement.x, ds.w - token.w) } : placement, token, ds.h, ds.w);
      out[2 * i] = p.y;
      out[2 * i + 1] = p.x;
    }
  }
  return out;
}

/** Authorized accuracy only (the real token at its place). */
export async function authorizedAccuracy(setup: EvalSetup): Promise<number> {
  const n = setup.dataset.n;
  return accuracyWith(setup, setup.settings.token, samePositionFor(setup, setup.settings.token, n));
}

/** Unauthorized accuracy only (clean inputs). */
export async function unauthorizedAccuracy(setup: EvalSetup): Promise<number> {
  return accuracyWith(setup, null, new Int32Array(2 * setup.dataset.n));
}

export async function evaluateLock(setup: EvalSetup): Promise<LockEvaluation> {
  const ds = setup.dataset;
  const real = setup.settings.token;
  const n = ds.n;
  const authorized = await authorizedAccuracy(setup);
  const unauthorized = await unauthorizedAccuracy(setup);
  const forged: ForgedResult[] = [];
  // Many forged tokens, each a full pass: a fixed sample keeps the cost bounded.
  const fn = Math.min(ds.n, setup.forgedSamples ?? 2000);
  const forgedSetup: EvalSetup = fn === ds.n ? setup : { ...setup, dataset: { ...ds, n: fn, images: ds.images.subarray(0, fn * ds.c * ds.h * ds.w), labels: ds.labels.subarray(0, fn) } };
  const rng = new Rng((setup.seed ?? 0) + 99);

  for (let k = 0; k < (setup.forgedKeys ?? 10); k++) {
    const key = `forged-key-${rng.nextU32().toString(16)}`;
    const { token } = await deriveKeyedToken(key, { channels: ds.c, size: real.h >= 2 && real.h === real.w ? real.h : 4, keyedColours: setup.keyedColours, H: ds.h, W: ds.w });
    forged.push({ kind: 'other-key', name: key, accuracy: await accuracyWith(forgedSetup, token, samePositionFor(setup, token, fn)) });
  }
  for (const name of PAPER_TOKEN_NAMES) {
    const token = makeToken(name, ds.c);
    if (tokensEqual(token, real)) continue;
    forged.push({ kind: 'paper-pattern', name, accuracy: await accuracyWith(forgedSetup, token, samePositionFor(setup, token, fn)) });
  }
  if (setup.settings.placement.mode !== 'random') {
    const truth = samePositionFor(setup, real, 1);
    const spots: [number, number][] = [];
    for (let y = 0; y + real.h <= ds.h; y++) {
      for (let x = 0; x + real.w <= ds.w; x++) {
        const overlap = y < truth[0]! + real.h && truth[0]! < y + real.h && x < truth[1]! + real.w && truth[1]! < x + real.w;
        if (!overlap) spots.push([y, x]);
      }
    }
    for (let k = 0; k < (setup.wrongPositions ?? 4) && spots.length > 0; k++) {
      const [y, x] = spots[rng.int(spots.length)]!;
      const positions = new Int32Array(2 * fn);
      for (let i = 0; i < fn; i++) {
        positions[2 * i] = y;
        positions[2 * i + 1] = x;
      }
      forged.push({ kind: 'wrong-position', name: `real token at (${y}, ${x})`, accuracy: await accuracyWith(forgedSetup, real, positions) });
    }
  }
  const accs = forged.map((f) => f.accuracy);
  return {
    authorizedAccuracy: authorized,
    unauthorizedAccuracy: unauthorized,
    forgedAccuracy: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : 0,
    forgedMaxAccuracy: accs.length ? Math.max(...accs) : 0,
    forged,
    n,
  };
}
