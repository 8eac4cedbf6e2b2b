/**
 * M-LOCK's two basic measurements, against the true labels: authorized accuracy (the real token stamped at its
 * place) and unauthorized accuracy (clean inputs). Forged tokens are the audit's (audit.ts).
 */
import { BatchLoader, type Normalization, type ImageDataset } from '../engine/data/index.js';
import { evaluate } from '../engine/train/index.js';
import type { Module } from '../engine/nn/index.js';
import { evaluationPositions, LockPlan, type LockSettings } from './lock-plan.js';
import type { Token } from './tokens.js';

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

/** Authorized accuracy only (the real token at its place). */
export async function authorizedAccuracy(setup: EvalSetup): Promise<number> {
  const n = setup.dataset.n;
  const { dataset: ds, settings } = setup;
  return accuracyWith(setup, settings.token, evaluationPositions(settings, n, ds.h, ds.w, (setup.seed ?? 0) + 17));
}

/** Unauthorized accuracy only (clean inputs). */
export async function unauthorizedAccuracy(setup: EvalSetup): Promise<number> {
  return accuracyWith(setup, null, new Int32Array(2 * setup.dataset.n));
}
