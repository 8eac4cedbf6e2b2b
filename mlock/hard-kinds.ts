/**
 * Forgery-kind mining for decoy training. Hard-cell mining (hard-cells.ts) drills the cells of the token a
 * network ignores; this drills the kinds of forgery it still falls for. Which kind stays open depends on the
 * key: a token whose place is black under most images is opened by covers that leave cells unpainted, another
 * by other keys' patterns near it, another by clean inputs creeping above chance (docs/threat-model.md). A
 * fixed mix cannot serve every key, so after each epoch the trainer scores fresh probes of every kind on
 * validation images, and the next epoch moves a share of the unauthorized samples to the kinds (and to clean
 * inputs) in proportion to how far their hardest probes answer above a useless answer. The audit draws its own
 * forgeries from its own seed; nothing here is a list it is tested on.
 */
import type { Rng } from '../engine/index.js';
import type { ImageDataset, Normalization } from '../engine/data/index.js';
import type { Module } from '../engine/nn/index.js';
import { scoreStamps } from './forgery-scores.js';
import type { LockSettings } from './lock-plan.js';
import { changeCells, DECOY_MIX, drawNearMiss, shownDistance, type NearMissKind, type Stamp } from './near-miss.js';
import { fixedPosition, stampPlacement } from './tokens.js';

/** What an unauthorized training sample carries: nothing (a clean input) or a decoy of one kind. */
export type UnauthorizedKind = 'clean' | NearMissKind;

/** How an epoch's unauthorized samples split between clean inputs (1 - decoyRatio) and the decoy kinds. */
export interface DecoyShares {
  decoyRatio: number;
  mix: Readonly<Record<NearMissKind, number>>;
}

/**
 * Share of the unauthorized samples that follow the measured weaknesses; the rest keep the base split, so a
 * kind the network has learned to reject is still drilled and does not open again.
 */
export const MINED_SHARE = 0.3;

/**
 * The next epoch's split: (1 - share) of the base split plus `share` spread over the kinds in proportion to
 * their excess accuracy (how far above chance their hardest probes answer). Kinds the base never draws stay
 * off, and with no excess anywhere the base split is returned unchanged.
 */
export function minedShares(
  base: DecoyShares,
  excess: Readonly<Partial<Record<UnauthorizedKind, number>>>,
  share = MINED_SHARE,
): DecoyShares {
  if (!(share >= 0 && share <= 1)) throw new Error(`minedShares: share must be in [0, 1], got ${share}`);
  const kinds = Object.keys(base.mix) as NearMissKind[];
  const p = new Map(Object.entries(unauthorizedSplit(base)) as [UnauthorizedKind, number][]);
  const eligible = [...p.keys()].filter((k) => k === 'clean' || p.get(k)! > 0);
  const e = new Map(eligible.map((k) => [k, Math.max(0, excess[k] ?? 0)]));
  const sum = [...e.values()].reduce((a, b) => a + b, 0);
  if (!(sum > 0) || base.decoyRatio === 0) return base;
  const q = (k: UnauthorizedKind) => (1 - share) * p.get(k)! + (share * (e.get(k) ?? 0)) / sum;
  const decoyRatio = 1 - q('clean');
  if (!(decoyRatio > 0)) return { decoyRatio: 0, mix: base.mix };
  const mix = Object.fromEntries(kinds.map((k) => [k, q(k) / decoyRatio])) as Record<NearMissKind, number>;
  return { decoyRatio, mix };
}

/** The probability of each kind of unauthorized sample under a split (clean inputs included); sums to 1. */
export function unauthorizedSplit(s: DecoyShares): Record<UnauthorizedKind, number> {
  const kinds = Object.keys(s.mix) as NearMissKind[];
  const total = kinds.reduce((sum, k) => sum + s.mix[k], 0);
  if (!(total > 0)) throw new Error('unauthorizedSplit: the mix has no positive weight');
  const out = { clean: 1 - s.decoyRatio } as Record<UnauthorizedKind, number>;
  for (const k of kinds) out[k] = (s.decoyRatio * s.mix[k]) / total;
  return out;
}

export interface KindProbe {
  /** Per kind probed: accuracy of its hardest probes (the mean of the top quarter), 'clean' included. */
  accuracy: Partial<Record<UnauthorizedKind, number>>;
  /**
   * The best constant answer's accuracy on the probe images (the largest class share). A locked network that
   * answers one class for everything scores that much without knowing anything; only accuracy above it is a
   * weakness to mine (against 1/C, sampling noise in the class shares alone would spread the mined share).
   */
  floor: number;
}

/** Kinds that are no forgery under random placement: there the real token unlocks at any place. */
const PLACE_BOUND: readonly NearMissKind[] = ['shift', 'far', 'look-alike-near'];

/** Forgeries each probe of one epoch scores (`probeKinds`' defaults), and the validation images it scores them on. */
export const KIND_PROBES = { perKind: 16, samples: 100 } as const;

// 16 probes of 100 validation images per kind: the top quarter (4 probes) reads a 30% forgery as 30 +- 2.5
// points, and the whole probe costs about 11,000 forward passes of the model per epoch.
export async function probeKinds(
  model: Module,
  dataset: ImageDataset,
  settings: LockSettings,
  normalization: Normalization,
  rng: Rng,
  probes: number = KIND_PROBES.perKind,
  samples: number = KIND_PROBES.samples,
): Promise<KindProbe> {
  const mix = settings.decoyMix ?? DECOY_MIX;
  const real = settings.token;
  const home = fixedPosition(stampPlacement(settings.placement), real, dataset.h, dataset.w);
  const anchored = settings.placement.mode !== 'random';
  const places = settings.placement.mode === 'at' ? settings.placement.among : undefined;
  const kinds = (Object.keys(mix) as NearMissKind[]).filter((k) => mix[k] > 0 && (anchored || !PLACE_BOUND.includes(k)));
  const draw = (kind: NearMissKind) =>
    drawNearMiss({ token: real, ...home }, { H: dataset.h, W: dataset.w, rng, levels: settings.levels, mix: only(kind), places });
  // Covers count where at least 2 cells look changed, as in the audit; fewer is a one-cell variant.
  const boundedDraw = (kind: NearMissKind): Stamp => {
    for (let attempt = 0; ; attempt++) {
      const s = draw(kind);
      if (kind !== 'cover' || !settings.background || attempt >= 40 || shownDistance(s.token, real, settings.background) >= 2) return s;
    }
  };
  const stamps: (Stamp | null)[] = [null];
  for (const kind of kinds) {
    for (let i = 0; i < probes; i++) {
      // Changed-cell probes start at 2 cells (the bounded near misses); single cells are hard-cell mining's.
      if (kind === 'cells') stamps.push({ token: changeCells(real, 2 + rng.int(3), rng, settings.levels), ...home });
      else stamps.push(boundedDraw(kind));
    }
  }
  const m = Math.min(samples, dataset.n);
  const scores = await scoreStamps({ model, dataset, normalization, samples: m }, stamps);
  const accuracy: Partial<Record<UnauthorizedKind, number>> = { clean: scores[0]! };
  kinds.forEach((kind, j) => (accuracy[kind] = topQuarterMean(scores.subarray(1 + j * probes, 1 + (j + 1) * probes))));
  const counts = new Float64Array(dataset.numClasses);
  for (let i = 0; i < m; i++) counts[dataset.labels[i]!]!++;
  return { accuracy, floor: Math.max(...counts) / m };
}

/**
 * How hard each kind still is, from the probes so far (oldest first): the latest probe's excess over its floor,
 * or an earlier one decayed by `decay` per epoch where that is larger. A kind that opened the lock two epochs
 * ago keeps part of its share after one quiet probe: without the memory a kind drilled shut in one epoch got its
 * base share back in the next and opened again (the key 'alpha': covers at 24-32% every other epoch).
 */
export function kindPressure(probes: readonly KindProbe[], decay = 0.7): Partial<Record<UnauthorizedKind, number>> {
  const out: Partial<Record<UnauthorizedKind, number>> = {};
  probes.forEach((p, j) => {
    const weight = decay ** (probes.length - 1 - j);
    for (const [k, a] of Object.entries(p.accuracy) as [UnauthorizedKind, number][])
      out[k] = Math.max(out[k] ?? 0, weight * Math.max(0, a - p.floor));
  });
  return out;
}

/** The hardest kind of forgery in a probe (clean inputs aside), for the epoch log and model selection. */
export function hardestKind(p: KindProbe): { kind: NearMissKind; accuracy: number } | null {
  let best: { kind: NearMissKind; accuracy: number } | null = null;
  for (const [k, a] of Object.entries(p.accuracy) as [UnauthorizedKind, number][])
    if (k !== 'clean' && (!best || a > best.accuracy)) best = { kind: k, accuracy: a };
  return best;
}

function only(kind: NearMissKind): Record<NearMissKind, number> {
  const mix = Object.fromEntries(Object.keys(DECOY_MIX).map((k) => [k, 0])) as Record<NearMissKind, number>;
  mix[kind] = 1;
  return mix;
}

function topQuarterMean(xs: Float64Array): number {
  const sorted = Array.from(xs).sort((a, b) => b - a);
  const top = sorted.slice(0, Math.max(1, Math.ceil(sorted.length / 4)));
  return top.reduce((a, b) => a + b, 0) / top.length;
}
