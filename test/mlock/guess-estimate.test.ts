import { describe, expect, it } from 'vitest';
import { estimateGuesses, log2Binomial, upperBound } from '../../mlock/guess-estimate.js';

describe('guess estimate', () => {
  it('binomial coefficients and one-sided Clopper-Pearson bounds match closed forms', () => {
    expect(2 ** log2Binomial(36, 2)).toBeCloseTo(630, 6);
    expect(2 ** log2Binomial(64, 8)).toBeCloseTo(4426165368, -2);
    // Zero of n: the bound solves (1 - p)^n = 0.05.
    expect(upperBound(0, 200)).toBeCloseTo(1 - 0.05 ** (1 / 200), 6);
    // One of 10: P(X <= 1 | p) = 0.05 at p = 0.3942 (tables).
    expect(upperBound(1, 10)).toBeCloseTo(0.3942, 3);
    expect(upperBound(5, 5)).toBe(1);
  });

  it('counts the real pattern, exhaustive and sampled distances, and the unlocking shifts', () => {
    const r = estimateGuesses({
      cells: 36,
      colours: 3,
      places: 441,
      unlockingShifts: 1,
      farFailed: true,
      curve: [
        { distance: 1, tried: 72, unlocked: 36, exhaustive: true },
        { distance: 2, tried: 200, unlocked: 0, exhaustive: false },
        { distance: 3, tried: 200, unlocked: 0, exhaustive: false },
      ],
    });
    // Unlocking: 1 + 0.5 * 72 patterns, at 2 places, out of 3^36 * 441 tokens.
    const expected = 36 * Math.log2(3) + Math.log2(441) - Math.log2(1 + 36) - 1;
    expect(r.localityHolds).toBe(true);
    expect(r.firstSafeDistance).toBe(2);
    expect(r.log2Guesses).toBeCloseTo(expected, 9);
    expect(r.explanation.join('\n')).toContain('distance 1: 36/72 unlocked (every variant)');
  });

  it('gives no estimate when locality fails, either way', () => {
    const curve = [{ distance: 8, tried: 200, unlocked: 3, exhaustive: false }];
    const far = estimateGuesses({ cells: 36, colours: 3, places: 1, unlockingShifts: 0, farFailed: true, curve });
    expect(far.localityHolds).toBe(false);
    expect(Number.isNaN(far.log2Guesses)).toBe(true);
    const keys = estimateGuesses({
      cells: 36,
      colours: 3,
      places: 1,
      unlockingShifts: 0,
      farFailed: false,
      curve: [{ distance: 2, tried: 10, unlocked: 0, exhaustive: false }],
    });
    expect(keys.localityHolds).toBe(false);
    expect(keys.explanation.join(' ')).toMatch(/a random key, a look-alike or a variant past the curve unlocked/);
  });
});
