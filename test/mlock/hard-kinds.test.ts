import '../helpers/setup.js';
import { describe, expect, it } from 'vitest';
import { hardestKind, kindPressure, minedShares, unauthorizedSplit, type DecoyShares } from '../../mlock/hard-kinds.js';
import { DECOY_MIX, type NearMissKind } from '../../mlock/near-miss.js';

/** Probability of each kind of unauthorized sample under a split, in float64 (written apart from unauthorizedSplit). */
function distribution(s: DecoyShares): Record<string, number> {
  const total = Object.values(s.mix).reduce((a, b) => a + b, 0);
  const out: Record<string, number> = { clean: 1 - s.decoyRatio };
  for (const [k, w] of Object.entries(s.mix)) out[k] = (s.decoyRatio * w) / total;
  return out;
}

describe('forgery-kind mining: the next epoch follows the kinds that still open the lock', () => {
  const base: DecoyShares = { decoyRatio: 0.9, mix: DECOY_MIX };

  it('moves the mined share to the kinds in proportion to their excess, the rest keeps the base split', () => {
    const excess = { cover: 0.3, 'other-key': 0.1, clean: 0.05, cells: -0.02 };
    const share = 0.3;
    const got = distribution(minedShares(base, excess, share));
    const p = distribution(base);
    const sum = 0.3 + 0.1 + 0.05;
    for (const k of Object.keys(p)) {
      const e = Math.max(0, (excess as Record<string, number>)[k] ?? 0);
      expect(got[k], k).toBeCloseTo((1 - share) * p[k]! + (share * e) / sum, 12);
    }
    expect(Object.values(got).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // A kind below chance (negative excess) gets nothing extra, but keeps its base share.
    expect(got.cells).toBeCloseTo((1 - share) * p.cells!, 12);
  });

  it('returns the base split when nothing answers above chance, and keeps kinds the base never draws off', () => {
    expect(minedShares(base, { cover: 0, clean: -0.01 })).toBe(base);
    const noShift: DecoyShares = { decoyRatio: 0.5, mix: { ...DECOY_MIX, shift: 0 } };
    const got = minedShares(noShift, { shift: 0.8, cover: 0.2 }, 0.5);
    expect(got.mix.shift).toBe(0);
    expect(distribution(got).cover).toBeCloseTo(0.5 * distribution(noShift).cover! + 0.5, 12);
    // The paper's scheme (no decoys) is left alone: mining never adds decoys to it.
    const paper: DecoyShares = { decoyRatio: 0, mix: DECOY_MIX };
    expect(minedShares(paper, { cover: 0.5 })).toBe(paper);
  });

  it('raises clean inputs when unauthorized accuracy creeps above chance', () => {
    const got = minedShares(base, { clean: 0.04 }, 0.3);
    expect(got.decoyRatio).toBeCloseTo(1 - (0.7 * 0.1 + 0.3), 12);
    // The decoy kinds keep their proportions among themselves.
    const ratio = (s: DecoyShares) => s.mix.cover / s.mix.cells;
    expect(ratio(got)).toBeCloseTo(ratio(base), 12);
  });

  it('unauthorizedSplit gives every kind its probability, clean inputs included', () => {
    const got = unauthorizedSplit(base);
    const want = distribution(base);
    for (const k of Object.keys(want)) expect(got[k as keyof typeof got], k).toBeCloseTo(want[k]!, 12);
    expect(Object.values(got).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('refuses a share outside [0, 1] and an empty mix', () => {
    expect(() => minedShares(base, {}, 1.5)).toThrow(/share must be in \[0, 1\]/);
    const empty = Object.fromEntries(Object.keys(DECOY_MIX).map((k) => [k, 0])) as Record<NearMissKind, number>;
    expect(() => minedShares({ decoyRatio: 0.5, mix: empty }, { cover: 1 })).toThrow(/no positive weight/);
  });

  it('pressure is the excess over the useless answer, remembered with decay where it was larger before', () => {
    const probes = [
      { accuracy: { clean: 0.12, cover: 0.45, cells: 0.2 }, floor: 0.14 },
      { accuracy: { clean: 0.18, cover: 0.1, cells: 0.3 }, floor: 0.14 },
    ];
    const got = kindPressure(probes, 0.5);
    expect(got.clean).toBeCloseTo(0.04, 12); // latest: 0.18 - 0.14
    expect(got.cover).toBeCloseTo(0.5 * (0.45 - 0.14), 12); // the decayed earlier excess beats the latest (none)
    expect(got.cells).toBeCloseTo(Math.max(0.3 - 0.14, 0.5 * (0.2 - 0.14)), 12);
    expect(kindPressure([])).toEqual({});
    expect(hardestKind(probes[0]!)).toEqual({ kind: 'cover', accuracy: 0.45 });
    expect(hardestKind({ accuracy: { clean: 0.9 }, floor: 0.1 })).toBeNull();
  });
});
