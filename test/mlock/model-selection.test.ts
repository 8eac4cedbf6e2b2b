import { describe, expect, it } from 'vitest';
import { AUTHORIZED_SLACK, lockedEpochScore, SHORTFALL_WEIGHT } from '../../mlock/model-selection.js';

describe('lockedEpochScore', () => {
  it('rewards authorized accuracy and charges answers above chance without the token or with one cell changed', () => {
    const base = { authorized: 0.95, unauthorized: 0.1, oneCell: 0.1 };
    expect(lockedEpochScore(base, 10)).toBeCloseTo(0.95, 12);
    expect(lockedEpochScore({ ...base, unauthorized: 0.3 }, 10)).toBeCloseTo(0.95 - 0.2, 12);
    expect(lockedEpochScore({ ...base, oneCell: 0.5 }, 10)).toBeCloseTo(0.95 - 0.2, 12);
    // Below chance is not rewarded: it would be a signal too (the argmin would tell the class).
    expect(lockedEpochScore({ ...base, unauthorized: 0.01 }, 10)).toBeCloseTo(0.95, 12);
    // The hardest kind of forgery counts in full: the audit's targets bound the worst case.
    expect(lockedEpochScore({ ...base, forgery: 0.4 }, 10)).toBeCloseTo(0.95 - 0.3, 12);
  });

  it('with a baseline, an epoch within half a point of it beats any epoch that is not, whatever its detector', () => {
    const baseline = 0.973;
    // The demo recipe's case: epoch 15 (94.5%, one-cell 16.1%) against epoch 30 (96.8%, one-cell 35.6%).
    const sharpButLow = { authorized: 0.945, unauthorized: 0.061, oneCell: 0.161 };
    const keeps = { authorized: 0.968, unauthorized: 0.073, oneCell: 0.356 };
    expect(lockedEpochScore(sharpButLow, 10)).toBeGreaterThan(lockedEpochScore(keeps, 10));
    expect(lockedEpochScore(keeps, 10, baseline)).toBeGreaterThan(lockedEpochScore(sharpButLow, 10, baseline));
    // Worst case within the slack against the best case outside it.
    const edge = { authorized: baseline - AUTHORIZED_SLACK, unauthorized: 1, oneCell: 1, forgery: 1 };
    const perfectButLow = { authorized: baseline - AUTHORIZED_SLACK - 1e-6, unauthorized: 0, oneCell: 0 };
    expect(lockedEpochScore(edge, 10, baseline)).toBeGreaterThan(lockedEpochScore(perfectButLow, 10, baseline));
    // Among epochs that all miss it, the usual score decides, with the shortfall charged on top.
    const a = { authorized: 0.95, unauthorized: 0.1, oneCell: 0.1 };
    const b = { authorized: 0.94, unauthorized: 0.1, oneCell: 0.1 };
    expect(lockedEpochScore(a, 10, baseline)).toBeGreaterThan(lockedEpochScore(b, 10, baseline));
    expect(lockedEpochScore(b, 10, baseline)).toBeCloseTo(0.94 - 4 - SHORTFALL_WEIGHT * (baseline - AUTHORIZED_SLACK - 0.94), 12);
  });

  it('among epochs short of the baseline, one that is much closer wins over a sharper detector far below', () => {
    // The report's MNIST random-label seed 1 (baseline validation 98.37%): epoch 7 against epoch 15.
    const baseline = 0.9837;
    const early = { authorized: 0.9685, unauthorized: 0.096, oneCell: 0.325 };
    const late = { authorized: 0.9782, unauthorized: 0.101, oneCell: 0.493 };
    expect(lockedEpochScore(early, 10)).toBeGreaterThan(lockedEpochScore(late, 10));
    expect(lockedEpochScore(late, 10, baseline)).toBeGreaterThan(lockedEpochScore(early, 10, baseline));
    // A forgery kind left open still outweighs a small gain: half a point closer is not worth 30% forgeries.
    const closeButOpen = { ...late, oneCell: 0.2, forgery: 0.3 };
    const safe = { ...late, authorized: 0.9732, oneCell: 0.2, forgery: 0.1 };
    expect(lockedEpochScore(safe, 10, baseline)).toBeGreaterThan(lockedEpochScore(closeButOpen, 10, baseline));
  });
});
