/**
 * How many guesses a forger needs, on average, to open a lock: the token space divided by the part of it that
 * unlocks. Sampling alone cannot show a fraction below about 3/k from k guesses, so the estimate rests on one
 * stated assumption, checked by the audit's measurements rather than assumed blindly:
 *
 *   Locality. A token unlocks (answers right at least half the time; audit.ts) only if its pattern is within
 *   Hamming distance D-1 of the real pattern and it
 *   sits at the real place or at one of the shifts seen to unlock; D is the first distance at which none of
 *   the sampled variants unlocks, and the audit checks every distance from D to its largest, 1,000+ random
 *   keys and look-alikes at the real place, all of which must fail for the assumption to stand.
 *
 * Under it, the unlocking fraction of the pattern space is at most sum_{d<D} u(d) N(d) / |patterns|, where
 * N(d) = C(n, d) (colours - 1)^d is the number of patterns at distance d and u(d) a one-sided 95% upper bound
 * (Clopper-Pearson) on the share of them that unlocks (exact where every variant was tried); the position
 * factor is (1 + unlocking shifts) / places. Expected guesses = 1 / fraction (uniform guessing with
 * replacement; without replacement it is (|S| + 1) / (|U| + 1), the same to many digits).
 */

export interface DistanceCount {
  distance: number;
  /** Variants tried at this distance, and how many of them unlocked. */
  tried: number;
  unlocked: number;
  /** True when `tried` is every variant at this distance (then the share is exact). */
  exhaustive: boolean;
}

export interface GuessInput {
  /** Cells in the patch (n) and colours per cell (levels^channels). */
  cells: number;
  colours: number;
  /** Possible places of the token (1 when the placement is public). */
  places: number;
  /** Measured shifts that unlocked (each counts as one more unlocking place). */
  unlockingShifts: number;
  curve: readonly DistanceCount[];
  /** Whether random keys, look-alikes and variants past the curve (far from the real token) all failed, as locality requires. */
  farFailed: boolean;
}

export interface GuessEstimate {
  /** log2 of the expected number of guesses (a lower bound at 95% under the locality assumption). */
  log2Guesses: number;
  log2TokenSpace: number;
  /** First distance at which nothing unlocked (D); null if every measured distance had unlocking variants. */
  firstSafeDistance: number | null;
  /** Whether the locality assumption is supported by the measurements (else log2Guesses is not meaningful). */
  localityHolds: boolean;
  /** The computation, term by term, in words. */
  explanation: string[];
}

/** log2 of C(n, k) (n choose k), by summing logs: exact enough for n up to thousands. */
export function log2Binomial(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log2(n - k + i) - Math.log2(i);
  return s;
}

/** One-sided upper confidence bound on a binomial share (Clopper-Pearson), by bisection on the tail. */
export function upperBound(successes: number, trials: number, confidence = 0.95): number {
  if (trials === 0) return 1;
  if (successes >= trials) return 1;
  const alpha = 1 - confidence;
  // The bound is the p at which P(X <= successes | p) = alpha.
  let lo = successes / trials;
  let hi = 1;
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (binomialCdf(successes, trials, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

function binomialCdf(k: number, n: number, p: number): number {
  let term = Math.pow(1 - p, n);
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term *= ((n - i + 1) / i) * (p / (1 - p));
    sum += term;
  }
  return sum;
}

export function estimateGuesses(input: GuessInput): GuessEstimate {
  const { cells, colours, places, curve } = input;
  const log2Patterns = cells * Math.log2(colours);
  const log2TokenSpace = log2Patterns + Math.log2(places);
  const sorted = [...curve].sort((a, b) => a.distance - b.distance);
  const safeFrom = sorted.findIndex((_, i) => sorted.slice(i).every((d) => d.unlocked === 0));
  const firstSafeDistance = safeFrom >= 0 ? sorted[safeFrom]!.distance : null;
  const explanation: string[] = [`token space: ${colours}^${cells} patterns x ${places} places = 2^${log2TokenSpace.toFixed(1)}`];
  const localityHolds = firstSafeDistance !== null && input.farFailed;
  if (!localityHolds) {
    explanation.push(
      firstSafeDistance === null
        ? 'locality does not hold: variants unlocked at the largest distance measured, so no estimate beyond sampling is possible'
        : 'locality does not hold: a random key, a look-alike or a variant past the curve unlocked, so no estimate beyond sampling is possible',
    );
    return { log2Guesses: NaN, log2TokenSpace, firstSafeDistance, localityHolds, explanation };
  }
  // Unlocking patterns: the real one (d = 0) plus, for each d < D, N(d) times the share's upper bound.
  let unlocking = 1;
  explanation.push('unlocking patterns <= 1 (the real one)');
  for (const c of sorted) {
    if (c.distance >= firstSafeDistance) break;
    const share = c.exhaustive ? c.unlocked / c.tried : upperBound(c.unlocked, c.tried);
    const log2N = log2Binomial(cells, c.distance) + c.distance * Math.log2(colours - 1);
    unlocking += share * Math.pow(2, log2N);
    explanation.push(
      `  + distance ${c.distance}: ${c.unlocked}/${c.tried} unlocked${c.exhaustive ? ' (every variant)' : `, 95% upper bound ${(share * 100).toFixed(2)}%`} of N = 2^${log2N.toFixed(1)}`,
    );
  }
  const unlockingPlaces = 1 + input.unlockingShifts;
  const log2Unlocking = Math.log2(unlocking) + Math.log2(unlockingPlaces);
  const log2Guesses = log2TokenSpace - log2Unlocking;
  explanation.push(`unlocking places: 1 + ${input.unlockingShifts} shifts`);
  explanation.push(`expected guesses >= 2^${log2TokenSpace.toFixed(1)} / 2^${log2Unlocking.toFixed(1)} = 2^${log2Guesses.toFixed(1)}`);
  return { log2Guesses, log2TokenSpace, firstSafeDistance, localityHolds, explanation };
}
