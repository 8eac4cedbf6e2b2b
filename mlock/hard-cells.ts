/**
 * Hard-cell mining for decoy training. A network first learns a coarse token detector that ignores some of
 * the token's cells: the real token with one of those changed still unlocks it. After each epoch the trainer
 * measures, for every cell, how well the network still answers with that cell changed (every other colour
 * of it, on a few validation images), and the next epoch's changed-cell decoys pick cells in proportion:
 * the cells the network ignores are drilled until it does not.
 */
import type { ImageDataset, Normalization } from '../engine/data/index.js';
import type { Module } from '../engine/nn/index.js';
import { scoreStamps } from './forgery-scores.js';
import type { LockSettings } from './lock-plan.js';
import { oneCellVariants } from './near-miss.js';
import { fixedPosition, stampPlacement } from './tokens.js';

export interface CellTolerance {
  /** Per cell: accuracy with that cell changed (mean over its other colours). */
  accuracy: Float64Array;
  /** Sampling weights for the next epoch's changed-cell decoys. */
  weights: Float64Array;
}

// Weight = floor + accuracy^2: a cell the network still accepts (accuracy near the authorized one) is drawn
// tens of times more often than one it rejects (accuracy near chance), but no cell is ever left out.
const FLOOR = 0.02;

// 100 validation images per variant: enough to tell a cell the network accepts (~90%) from one it rejects
// (~10%), at about a second per epoch for an 8x8 token.
export async function cellTolerance(
  model: Module,
  dataset: ImageDataset,
  settings: LockSettings,
  normalization: Normalization,
  samples = 100,
): Promise<CellTolerance> {
  const real = settings.token;
  const { y, x } = fixedPosition(stampPlacement(settings.placement), real, dataset.h, dataset.w);
  const variants = oneCellVariants(real, settings.levels);
  const scores = await scoreStamps(
    { model, dataset, normalization, samples },
    variants.map((v) => ({ token: v.token, y, x })),
  );
  const cells = real.h * real.w;
  const sum = new Float64Array(cells);
  const count = new Float64Array(cells);
  variants.forEach((v, i) => {
    sum[v.cell]! += scores[i]!;
    count[v.cell]!++;
  });
  const accuracy = sum.map((s, i) => s / count[i]!);
  return { accuracy, weights: accuracy.map((a) => FLOOR + a * a) };
}
