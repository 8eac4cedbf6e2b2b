/**
 * Which epoch of locked training a run keeps: the one with the best score on the validation split.
 *
 * A locked model should answer right with the token and at chance without it and with one cell of the token
 * changed (the sharpest near miss, a proxy for the detector's sharpness) and with the hardest kind of forgery
 * the epoch's probe found (the audit's targets bound the worst case). The one-cell term alone would trade
 * authorized accuracy away: on the demo recipe it kept an epoch 2.4 points below the baseline's validation
 * accuracy (epoch 15 of 30, the last before the learning-rate drop) over later epochs within 0.4 points, for
 * one-cell variants that are reported, not promised. So when the baseline's validation accuracy is known, an
 * epoch within half a point of it always beats one that is not (authorized within 1 point is a target), and
 * among epochs that all fall short, each point of shortfall costs as much as 10 points of forgery excess (20 of
 * one-cell excess): on the report's MNIST random-label rows the flat penalty kept epoch 7 of 15 (96.85%,
 * one-cell 32.5%) over epoch 15 (97.82%, one-cell 49.3%), 1.3 points below the baseline on the test set.
 */

export interface LockedEpochScores {
  /** Validation accuracy with the token, without it, and with one cell changed (mean over cells). */
  authorized: number;
  unauthorized: number;
  oneCell: number;
  /** Accuracy of the hardest kind of forgery the epoch's probe found (hard-kinds.ts), when decoys are on. */
  forgery?: number;
}

/** How far below the baseline's validation accuracy an epoch may fall and still count as keeping it. */
export const AUTHORIZED_SLACK = 0.005;
/** What a unit of authorized accuracy short of (baseline - slack) costs, on top of the step. */
export const SHORTFALL_WEIGHT = 10;

export function lockedEpochScore(s: LockedEpochScores, classes: number, baselineAccuracy?: number): number {
  const excess = (a: number) => Math.max(0, a - 1 / classes);
  const score = s.authorized - excess(s.unauthorized) - 0.5 * excess(s.oneCell) - excess(s.forgery ?? 0);
  const shortfall = baselineAccuracy === undefined ? 0 : Math.max(0, baselineAccuracy - AUTHORIZED_SLACK - s.authorized);
  // Every term above lies in (-3, 1]: a 4-point step puts every epoch that keeps the baseline first.
  return shortfall > 0 ? score - 4 - SHORTFALL_WEIGHT * shortfall : score;
}
