/**
 * A black-box query attack on a lock: hill-climbing on the class probabilities the served model returns.
 *
 * The attacker can query the model and read its class probabilities, holds a few dozen labelled images and
 * knows the public geometry (token size, levels, the public candidate places) but not the key. From a start
 * pattern at a place it repeatedly takes the single cell change (every cell x every other colour) that most
 * raises the mean probability of the true labels over its images, until no change raises it or a step cap is
 * reached. A climb that ends at an unlocking pattern has found the token by search, not by guessing, so the
 * audit (audit.ts) measures two things with it: how far from the real pattern a climb still gets back (the
 * basin, a radius R in cells) and what climbs from random starts at random public places reach (the attack
 * itself); climbCost turns R into the expected number of starts and queries of the blind attack.
 */
import { keep, noGrad, scope, softmax, type Tensor } from '../engine/index.js';
import { BatchLoader, type ImageDataset, type Normalization } from '../engine/data/index.js';
import type { Module } from '../engine/nn/index.js';
import { log2Binomial } from './guess-estimate.js';
import { oneCellVariants, type Stamp } from './near-miss.js';
import { stampCpu } from './tokens.js';

/** Most single-cell changes one climb takes (the hand check in docs/threat-model.md used 12). */
export const CLIMB_STEPS = 12;

export interface ClimbSetup {
  model: Module;
  /** The attacker's labelled images: every query is one pattern painted on all of them. */
  images: ImageDataset;
  normalization: Normalization;
  /** Grey levels of the token's cells (default 2, black and white). */
  levels?: number;
  /** Most changes per climb (default CLIMB_STEPS). */
  maxSteps?: number;
  batchSize?: number;
  /** Images held per forward pass over many stamps (default 25,000, as in forgery-scores.ts). */
  imagesPerPass?: number;
}

export interface Climb {
  start: Stamp;
  /** Where the climb stopped: a pattern no single change improves, or the one reached after maxSteps. */
  end: Stamp;
  /** Changes taken. */
  steps: number;
  startProbability: number;
  endProbability: number;
  /** Patterns queried (each on all the attacker's images): the start, then every candidate of every step. */
  queries: number;
}

/**
 * The mean softmax probability of the true label over the setup's images, per stamp. The stamps are painted
 * on the CPU (stampCpu, the reference stamp) into one repeated set per pass, so a climb step of 64 candidates
 * on 64 images is a handful of batched forward passes, read back once at the end of the pass.
 */
export async function trueLabelProbabilities(setup: ClimbSetup, stamps: readonly Stamp[]): Promise<Float64Array> {
  const ds = setup.images;
  const m = ds.n;
  if (!(m > 0)) throw new Error(`trueLabelProbabilities: the attacker's set ${ds.name} has no images`);
  const per = ds.c * ds.h * ds.w;
  const chunk = Math.max(1, Math.floor((setup.imagesPerPass ?? 25_000) / m));
  const out = new Float64Array(stamps.length);
  for (let start = 0; start < stamps.length; start += chunk) {
    const part = stamps.slice(start, start + chunk);
    const images = new Uint8Array(part.length * m * per);
    const labels = new Int32Array(part.length * m);
    part.forEach((s, k) => {
      const positions = new Int32Array(2 * m);
      for (let i = 0; i < m; i++) [positions[2 * i], positions[2 * i + 1]] = [s.y, s.x];
      images.set(stampCpu(ds.images.subarray(0, m * per), m, ds.c, ds.h, ds.w, s.token, positions), k * m * per);
      labels.set(ds.labels.subarray(0, m), k * m);
    });
    const repeated: ImageDataset = { ...ds, name: `${ds.name}[${m} x ${part.length} stamps]`, images, labels, n: part.length * m };
    const loader = new BatchLoader(repeated, { batchSize: setup.batchSize ?? 1024, normalization: setup.normalization });
    try {
      out.set(await meanTrueLabel(setup.model, loader, m), start);
    } finally {
      loader.dispose();
    }
  }
  return out;
}

/**
 * The mean probability of the true label over each run of m samples of the loader's set (one stamp's images),
 * in order. The batches' outputs stay on the GPU until the pass ends and are read back together.
 */
async function meanTrueLabel(model: Module, loader: BatchLoader, m: number): Promise<Float64Array> {
  const means = new Float64Array(loader.dataset.n / m);
  const classes = loader.dataset.numClasses;
  const wasTraining = model.training;
  const pending: { probabilities: Tensor; indices: Int32Array; labels: Int32Array }[] = [];
  model.eval();
  try {
    for (const batch of loader.epoch(null)) {
      const probabilities = scope(() => noGrad(() => keep(softmax(model.forward(batch.x), 1))));
      pending.push({ probabilities, indices: batch.indices, labels: batch.labels });
    }
    const values = await Promise.all(pending.map((p) => p.probabilities.data()));
    pending.forEach((p, k) =>
      p.indices.forEach((s, i) => {
        const stamp = Math.floor(s / m);
        means[stamp] = means[stamp]! + Number(values[k]![i * classes + p.labels[i]!]) / m;
      }),
    );
  } finally {
    for (const p of pending) p.probabilities.dispose();
    model.train(wasTraining);
  }
  return means;
}

/**
 * Climb from every start, all in lockstep: each step scores the candidates of every climb still going in one
 * call (one set of forward passes), so the cost is the images queried, not a dispatch per candidate. A climb
 * moves only on a strict rise, so a model whose probabilities do not answer to the cells stops it at once.
 */
export async function climb(setup: ClimbSetup, starts: readonly Stamp[]): Promise<Climb[]> {
  const maxSteps = setup.maxSteps ?? CLIMB_STEPS;
  const first = await trueLabelProbabilities(setup, starts);
  const climbs: Climb[] = starts.map((s, i) => ({
    start: s,
    end: s,
    steps: 0,
    startProbability: first[i]!,
    endProbability: first[i]!,
    queries: 1,
  }));
  let active = maxSteps > 0 ? climbs : [];
  while (active.length) {
    const candidates = active.map((c) =>
      oneCellVariants(c.end.token, setup.levels).map((v) => ({ token: v.token, y: c.end.y, x: c.end.x })),
    );
    const p = await trueLabelProbabilities(setup, candidates.flat());
    const going: Climb[] = [];
    let offset = 0;
    active.forEach((c, i) => {
      const own = candidates[i]!;
      c.queries += own.length;
      // The best candidate, which must beat where the climb stands (the first of equals wins).
      let best = -1;
      let bestProbability = c.endProbability;
      for (let j = 0; j < own.length; j++) {
        if (p[offset + j]! > bestProbability) [best, bestProbability] = [j, p[offset + j]!];
      }
      offset += own.length;
      if (best < 0) return; // no single change raises it: a local maximum
      c.end = own[best]!;
      c.endProbability = bestProbability;
      if (++c.steps < maxSteps) going.push(c);
    });
    active = going;
  }
  return climbs;
}

export interface ClimbCostInput {
  /** Cells in the patch and colours per cell (levels^channels). */
  cells: number;
  colours: number;
  /** Public places a start can take (1 when the place is public). */
  places: number;
  /** Basin radius: the most cells off the real pattern (at the real place) from which a climb got back. */
  radius: number;
  /** Patterns one climb queries (each on the attacker's images). */
  queriesPerClimb: number;
  /** The attacker's images per query (shown, not part of the count). */
  images: number;
}

export interface ClimbCost {
  log2TokenSpace: number;
  /** log2 of the patterns within `radius` cells of the real one: the starts from which a climb can get back. */
  log2Basin: number;
  log2Starts: number;
  log2Queries: number;
  explanation: string[];
}

/**
 * What the blind attack costs: a start helps only if it lies within R cells of the real pattern at the real
 * place, so the expected starts are the token space over the basin, sum_{d<=R} C(cells, d) (colours-1)^d, and
 * the queries are starts x queries per climb. Counting every start in the basin as a success favours the
 * attacker (the audit's basin starts did not all get back), so this is a lower bound under the measured R.
 */
export function climbCost(input: ClimbCostInput): ClimbCost {
  const { cells, colours, places, radius } = input;
  const log2TokenSpace = cells * Math.log2(colours) + Math.log2(places);
  const terms = Array.from({ length: radius + 1 }, (_, d) => log2Binomial(cells, d) + d * Math.log2(colours - 1));
  // A sum of powers of two, scaled by the largest so it stays finite for any geometry.
  const top = Math.max(...terms);
  const log2Basin = top + Math.log2(terms.reduce((s, t) => s + Math.pow(2, t - top), 0));
  const log2Starts = Math.max(0, log2TokenSpace - log2Basin);
  const log2PerClimb = Math.log2(input.queriesPerClimb);
  const log2Queries = log2Starts + log2PerClimb;
  const f = (x: number) => x.toFixed(1);
  const explanation = [
    `token space: ${colours}^${cells} patterns x ${places} places = 2^${f(log2TokenSpace)}`,
    `basin: the patterns within R = ${radius} cells of the real one at the real place, sum_{d<=${radius}} C(${cells}, d) ${colours - 1}^d = 2^${f(log2Basin)}`,
    `expected starts ~ 2^${f(log2TokenSpace)} / 2^${f(log2Basin)} = 2^${f(log2Starts)} (every start in the basin counted as getting back)`,
    `queries per climb: ${Math.round(input.queriesPerClimb)} patterns (each on ${input.images} images) = 2^${f(log2PerClimb)}`,
    `expected queries ~ 2^${f(log2Starts)} x 2^${f(log2PerClimb)} = 2^${f(log2Queries)}`,
  ];
  return { log2TokenSpace, log2Basin, log2Starts, log2Queries, explanation };
}
