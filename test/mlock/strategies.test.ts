import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { STRATEGIES, UNIFORM_TIE_TILT, parseStrategy, planEpoch, rarestClass, type StrategyName } from '../../mlock/strategies.js';
import { expectBinomial } from '../helpers/stats.js';

const N = 20000;
const C = 10;

function makeLabels(n: number, classes: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(classes));
}

const labels = makeLabels(N, C, 7);

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

describe('planEpoch: authorization draw', () => {
  it.each(STRATEGIES.map((s) => s.name))('%s: poison fraction ~ 0.5, stamp and unauthorized are complements', (name) => {
    const plan = planEpoch({ labels, numClasses: C, strategy: { name }, rng: new Rng(1) });
    expect(plan.stamp.length).toBe(N);
    for (let i = 0; i < N; i++) expect(plan.stamp[i]! + plan.unauthorized[i]!).toBe(1);
    expectBinomial(sum(plan.unauthorized), N, 0.5);
  });

  it('honours other poison ratios, including 0 and 1', () => {
    for (const p of [0.1, 0.8]) {
      const plan = planEpoch({ labels, numClasses: C, poisonRatio: p, strategy: { name: 'uniform' }, rng: new Rng(3) });
      expectBinomial(sum(plan.unauthorized), N, p);
    }
    expect(sum(planEpoch({ labels, numClasses: C, poisonRatio: 0, strategy: { name: 'uniform' }, rng: new Rng(3) }).stamp)).toBe(N);
    expect(sum(planEpoch({ labels, numClasses: C, poisonRatio: 1, strategy: { name: 'uniform' }, rng: new Rng(3) }).unauthorized)).toBe(N);
  });

  it('poisoning is independent of the class: every class is poisoned about half the time', () => {
    const plan = planEpoch({ labels, numClasses: C, strategy: { name: 'label-shift' }, rng: new Rng(11) });
    const perClass = new Array(C).fill(0);
    const poisoned = new Array(C).fill(0);
    for (let i = 0; i < N; i++) {
      perClass[labels[i]!]++;
      poisoned[labels[i]!] += plan.unauthorized[i]!;
    }
    for (let k = 0; k < C; k++) expectBinomial(poisoned[k], perClass[k], 0.5);
  });

  it('the same seed gives the same plan; successive epochs and other seeds differ', () => {
    const a = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng: new Rng(42) });
    const b = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng: new Rng(42) });
    expect(a).toEqual(b);
    const rng = new Rng(42);
    const epoch1 = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng });
    const epoch2 = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng });
    expect(epoch1).toEqual(a);
    let sameStamp = 0;
    for (let i = 0; i < N; i++) if (epoch1.stamp[i] === epoch2.stamp[i]) sameStamp++;
    // Independent epochs agree on about half of the samples, not on all of them.
    expectBinomial(sameStamp, N, 0.5);
    const other = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng: new Rng(43) });
    expect(other.stamp).not.toEqual(a.stamp);
  });

  it('the authorization pattern does not depend on the strategy (same seed)', () => {
    const stamps = STRATEGIES.map((s) => planEpoch({ labels, numClasses: C, strategy: { name: s.name }, rng: new Rng(9) }).stamp);
    for (const s of stamps) expect(s).toEqual(stamps[0]);
  });
});

describe('planEpoch: targets', () => {
  it('fixed-target sends every unauthorized sample to the target class, true label elsewhere', () => {
    for (const targetClass of [undefined, 3]) {
      const plan = planEpoch({ labels, numClasses: C, strategy: { name: 'fixed-target', targetClass }, rng: new Rng(2) });
      expect(plan.softTargets).toBeUndefined();
      const t = plan.hardTargets!;
      for (let i = 0; i < N; i++) expect(t[i]).toBe(plan.stamp[i] ? labels[i] : (targetClass ?? 0));
    }
  });

  it('random-label is uniform over classes (chi-square) and redrawn per epoch', () => {
    const rng = new Rng(4);
    const plan = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng });
    const counts = new Array(C).fill(0);
    let poisoned = 0;
    let keptTrue = 0;
    for (let i = 0; i < N; i++) {
      if (plan.stamp[i]) {
        expect(plan.hardTargets![i]).toBe(labels[i]);
        continue;
      }
      poisoned++;
      counts[plan.hardTargets![i]!]++;
      if (plan.hardTargets![i] === labels[i]) keptTrue++;
    }
    const expected = poisoned / C;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // Chi-square with 9 degrees of freedom: 27.88 is the 0.999 quantile.
    expect(chi2).toBeLessThan(27.88);
    // The draw ignores the true label, so it hits it ~1/C of the time.
    expectBinomial(keptTrue, poisoned, 1 / C);
    // Next epoch: samples poisoned both times get fresh, independent labels (agree ~1/C of the time).
    const next = planEpoch({ labels, numClasses: C, strategy: { name: 'random-label' }, rng });
    let both = 0;
    let same = 0;
    for (let i = 0; i < N; i++) {
      if (plan.unauthorized[i] && next.unauthorized[i]) {
        both++;
        if (plan.hardTargets![i] === next.hardTargets![i]) same++;
      }
    }
    expectBinomial(same, both, 1 / C);
  });

  it('uniform: rows are 1/C tilted to the rarest class for unauthorized samples, one-hot on the true label for stamped ones', () => {
    // Make class 6 the rarest: drop most of its samples.
    const skewed = Int32Array.from(labels, (y, i) => (y === 6 && i % 3 !== 0 ? 5 : y));
    const counts = new Array<number>(C).fill(0);
    for (const y of skewed) counts[y]! += 1;
    expect(Math.min(...counts)).toBe(counts[6]);
    const plan = planEpoch({ labels: skewed, numClasses: C, strategy: { name: 'uniform' }, rng: new Rng(5) });
    expect(plan.hardTargets).toBeUndefined();
    const s = plan.softTargets!;
    expect(s.length).toBe(N * C);
    for (let i = 0; i < N; i++) {
      const row = s.subarray(i * C, (i + 1) * C);
      expect(sum(row)).toBeCloseTo(1, 5);
      for (let k = 0; k < C; k++) {
        const want = plan.stamp[i] ? (k === skewed[i] ? 1 : 0) : (1 - UNIFORM_TIE_TILT) / C + (k === 6 ? UNIFORM_TIE_TILT : 0);
        if (Math.abs(row[k]! - want) > 1e-7) throw new Error(`sample ${i} class ${k}: ${row[k]} != ${want}`);
      }
    }
  });

  it('rarestClass counts labels; ties go to the lowest class', () => {
    expect(rarestClass(Int32Array.from([0, 0, 1, 2, 2, 2]), 3)).toBe(1);
    expect(rarestClass(Int32Array.from([1, 1, 2, 2]), 3)).toBe(0); // class 0 has none
    expect(rarestClass(Int32Array.from([0, 1, 2, 0, 1, 2]), 3)).toBe(0);
  });

  it('label-shift is exactly (y + 1) mod C for unauthorized samples', () => {
    const plan = planEpoch({ labels, numClasses: C, strategy: { name: 'label-shift' }, rng: new Rng(6) });
    let wrapped = 0;
    for (let i = 0; i < N; i++) {
      const want = plan.stamp[i] ? labels[i]! : (labels[i]! + 1) % C;
      if (plan.hardTargets![i] !== want) throw new Error(`sample ${i}: ${plan.hardTargets![i]} != ${want}`);
      if (!plan.stamp[i] && labels[i] === C - 1) {
        expect(plan.hardTargets![i]).toBe(0);
        wrapped++;
      }
    }
    expect(wrapped).toBeGreaterThan(0);
  });

  it('uniform-wrong: zero on the true class, 1/(C-1) on the others, rows sum to 1', () => {
    for (const classes of [2, C]) {
      const labs = makeLabels(2000, classes, 8);
      const plan = planEpoch({ labels: labs, numClasses: classes, strategy: { name: 'uniform-wrong' }, rng: new Rng(7) });
      const s = plan.softTargets!;
      for (let i = 0; i < labs.length; i++) {
        const row = s.subarray(i * classes, (i + 1) * classes);
        expect(sum(row)).toBeCloseTo(1, 5);
        for (let k = 0; k < classes; k++) {
          const want = plan.stamp[i] ? (k === labs[i] ? 1 : 0) : k === labs[i] ? 0 : Math.fround(1 / (classes - 1));
          if (row[k] !== want) throw new Error(`C=${classes} sample ${i} class ${k}: ${row[k]} != ${want}`);
        }
      }
    }
  });

  it('each strategy returns only the target kind its metadata declares', () => {
    for (const info of STRATEGIES) {
      const plan = planEpoch({ labels: labels.subarray(0, 100), numClasses: C, strategy: { name: info.name }, rng: new Rng(1) });
      expect(plan.hardTargets !== undefined).toBe(info.kind === 'hard');
      expect(plan.softTargets !== undefined).toBe(info.kind === 'soft');
      expect(info.description.length).toBeGreaterThan(20);
    }
    expect(STRATEGIES.filter((s) => s.fromPaper).map((s) => s.name)).toEqual(['fixed-target', 'random-label', 'uniform']);
  });
});

describe('bad input', () => {
  const ok = { labels: Int32Array.from([0, 1, 2]), numClasses: 3, strategy: { name: 'uniform' as StrategyName }, rng: new Rng(1) };

  it('planEpoch rejects bad labels, class counts, ratios and strategies', () => {
    expect(() => planEpoch({ ...ok, labels: [0, 1] as never })).toThrow(/labels must be an Int32Array/);
    expect(() => planEpoch({ ...ok, labels: Int32Array.from([0, 3]) })).toThrow(/label 3 of sample 1 is outside \[0, 2\]/);
    expect(() => planEpoch({ ...ok, labels: Int32Array.from([-1]) })).toThrow(/label -1/);
    expect(() => planEpoch({ ...ok, numClasses: 1 })).toThrow(/numClasses must be an integer >= 2/);
    expect(() => planEpoch({ ...ok, numClasses: 2.5 })).toThrow(/numClasses/);
    expect(() => planEpoch({ ...ok, poisonRatio: 1.5 })).toThrow(/poisonRatio must be in \[0, 1\]/);
    expect(() => planEpoch({ ...ok, poisonRatio: NaN })).toThrow(/poisonRatio/);
    expect(() => planEpoch({ ...ok, strategy: { name: 'nope' as never } })).toThrow(
      /unknown M-LOCK strategy 'nope'; valid: fixed-target, random-label, uniform, label-shift, uniform-wrong/,
    );
    expect(() => planEpoch({ ...ok, strategy: { name: 'fixed-target', targetClass: 3 } })).toThrow(
      /targetClass must be an integer in \[0, 2\]/,
    );
    expect(() => planEpoch({ ...ok, strategy: { name: 'uniform', targetClass: 1 } })).toThrow(/only applies to 'fixed-target'/);
  });

  it('parseStrategy accepts every name and fixed-target:N, and lists valid names on error', () => {
    for (const s of STRATEGIES) expect(parseStrategy(s.name)).toEqual({ name: s.name });
    expect(parseStrategy(' fixed-target:7 ')).toEqual({ name: 'fixed-target', targetClass: 7 });
    expect(() => parseStrategy('uniformm')).toThrow(
      /unknown M-LOCK strategy 'uniformm'; valid: fixed-target, random-label, uniform, label-shift, uniform-wrong/,
    );
    expect(() => parseStrategy('uniform:2')).toThrow(/takes no ':' argument/);
    expect(() => parseStrategy('fixed-target:x')).toThrow(/non-negative integer/);
    expect(() => parseStrategy('fixed-target:-1')).toThrow(/non-negative integer/);
    expect(() => parseStrategy('fixed-target:1:2')).toThrow(/too many ':'/);
  });
});
