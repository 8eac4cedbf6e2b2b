/**
 * Which epoch of locked training a run keeps: the one with the best score on the validation split.
 *
 * A locked model should answer right with the token and at chance without it and with one cell of the token
 * changed (the sharpest near miss, a proxy for the detector's sharpness) and with the hardest kind of forgery
 * the epoch's probe found (the audit's targets bound the worst case). The one-cell term alone would trade
 * authorized accuracy away: on the demo recipe it kept an epoch 2.4 points below the baseline's validation
 * accuracy (epoch 15 of 30, the last before the learning-rate drop) over later epochs within 0.4 points, for
 * one-cell variants that are reported, not promised. So when the baseline's validation accuracy is known, an
 * epoch within half a point of it always beats one that is not (authorized within 1 point is a target).
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

export function lockedEpochScore(s: LockedEpochScores, classes: number, baselineAccuracy?: number): number {
  const excess = (a: number) => Math.max(0, a - 1 / classes);
  const score = s.authorized - excess(s.unauthorized) - 0.5 * excess(s.oneCell) - excess(s.forgery ?? 0);
  const keepsBaseline = baselineAccuracy === undefined || s.authorized >= baselineAccuracy - AUTHORIZED_SLACK;
  // Every term above lies in (-3, 1]: a 4-point step puts every epoch that keeps the baseline first.
  return keepsBaseline ? score : score - 4;
}
