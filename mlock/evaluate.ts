/**
 * M-LOCK's two basic measurements, against the true labels: authorized accuracy (the real token stamped at its
 * place) and unauthorized accuracy (clean inputs). Forged tokens are the audit's (audit.ts).
 */
import { Rng } from '../engine/index.js';
import { BatchLoader, type Normalization, type ImageDataset } from '../engine/data/index.js';
import { evaluate } from '../engine/train/index.js';
import type { Module } from '../engine/nn/index.js';
import { LockPlan, type LockSettings } from './lock-plan.js';
import { fixedPosition, type Token } from './tokens.js';

export interface EvalSetup {
  model: Module;
  dataset: ImageDataset;
  settings: LockSettings;
  normalization: Normalization;
  batchSize?: number;
  seed?: number;
}

function loaderFor(setup: EvalSetup, token: Token | null, positions: Int32Array): BatchLoader {
  const ds = setup.dataset;
  const plan = LockPlan.forEvaluation(setup.settings, ds.numClasses, ds.n, token, positions);
  return new BatchLoader(ds, { batchSize: setup.batchSize ?? 256, normalization: setup.normalization, patches: plan });
}

export async function accuracyWith(setup: EvalSetup, token: Token | null, positions: Int32Array): Promise<number> {
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
