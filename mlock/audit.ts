/**
 * The lock's audit: what the best query attacks without the key reach, worst case next to the mean.
 *
 * - near-miss curve: the real token with d cells changed, every variant at d = 1, sampled ones up to d = 8,
 *   and sampled ones with more (up to every cell) past it;
 * - the real token shifted by 1-2 px in every direction, dimmed or brightened (25%-100%, 125-200%),
 *   partly covered (peeled off or blacked out; bounded where at least 2 cells look changed on the images),
 *   mirrored, rotated, inverted or rolled inside its frame (bounded the same way);
 * - look-alike patterns at and around the real place, the paper's public patterns there;
 * - 1,000+ random other keys, each token at its own key-derived place (what a guesser produces);
 * - the expected number of guesses to unlock (guess-estimate.ts, with the computation shown);
 * - a black-box query attack climbing on the class probabilities (query-attack.ts): from the real pattern with
 *   k cells changed (the basin, reported only: it starts from the secret) and from random patterns at random
 *   public places (the attack, bounded), with what the blind attack costs in starts and queries.
 * Every forgery is drawn fresh from the audit's own seed (not the training decoys), scored on the same test
 * images (spread evenly over the classes) by forgery-scores.ts, and every result carries its count, mean, worst and the number above 20%/50%.
 */
import { Rng } from '../engine/index.js';
import { subset, type ImageDataset, type Normalization } from '../engine/data/index.js';
import type { Module } from '../engine/nn/index.js';
import { authorizedAccuracy, unauthorizedAccuracy } from './evaluate.js';
import { estimateGuesses, type DistanceCount, type GuessEstimate } from './guess-estimate.js';
import { deriveKeyedToken, DEFAULT_LEVELS, placeCount } from './keyed.js';
import type { LockSettings } from './lock-plan.js';
import {
  changeCells,
  coverPart,
  lookAlike,
  oneCellVariants,
  placeBackground,
  randomSpot,
  scaleBrightness,
  shifts,
  shownDistance,
  transformedTokens,
  type Stamp,
} from './near-miss.js';
import { classBalancedSample, scoreStamps } from './forgery-scores.js';
import { climb, climbCost, CLIMB_STEPS, type Climb, type ClimbCost } from './query-attack.js';
import { fixedPosition, makeToken, PAPER_TOKEN_NAMES, stampPlacement, tokensEqual } from './tokens.js';

/** Partly covered tokens per cover mode (unpainted, black) that look changed in at least 2 cells. */
const COVERS = 50;

/** The cells off the real pattern the probability climb's basin starts take. */
export const BASIN_DISTANCES = [2, 3, 4, 6, 8];

/**
 * How much the probability climb does, from the audit's perDistance, so that a lighter audit climbs less: a
 * climb that finds nothing queries 1 + 12 x 64 patterns, about 49,000 images at 64 images a query, as much as
 * 250 forgeries of the demo's audit. The full audit (perDistance 200) climbs with the threat model's 64 images,
 * one start per basin distance and 4 blind starts (at most about 440,000 images, under a third of its scoring);
 * lighter ones with images falling as the square of perDistance, down to 16: the demo's (100) with 16 images and
 * 2 blind starts (about 5 s of its MLP on a software adapter; 32 images took 10-13 s and left `npm start` 9 s
 * under its 5 minutes). A token with more colours a cell has more candidates a step (an RGB cell of 2 levels 7,
 * not 1), and the images a query shrink in proportion, down to 8, so that a step costs about what a
 * black-and-white one does.
 */
export function climbSizes(perDistance: number, candidates: number): { images: number; perBasin: number; blind: number } {
  const greyImages = Math.min(64, Math.max(16, Math.round(64 * (perDistance / 200) ** 2)));
  return {
    images: Math.max(8, Math.min(greyImages, Math.round((greyImages * 64) / candidates))),
    perBasin: Math.max(1, Math.round(perDistance / 200)),
    blind: Math.max(2, Math.round(perDistance / 50)),
  };
}

export interface AuditOptions {
  model: Module;
  dataset: ImageDataset;
  settings: LockSettings;
  normalization: Normalization;
  /** Test images per forgery (default 500: a 10%-accuracy forgery reads 10 +- 1.3 points). */
  samples?: number;
  /** Sampled variants per near-miss distance (default 200) and the largest distance (default 8). */
  perDistance?: number;
  maxDistance?: number;
  /** Random other keys (default 1000). */
  randomKeys?: number;
  seed?: number;
  /**
   * A forgery "unlocks" for the guess estimate when its accuracy reaches this (default 0.5: it answers right
   * at least half the time). The worst-case figures are reported against 20% separately (above20).
   */
  unlockAt?: number;
  log?: (line: string) => void;
}

export interface ForgeryGroup {
  /** What was forged, e.g. 'cells changed: 3', 'shift', 'brightness 50%', 'random keys'. */
  label: string;
  family: 'cells' | 'shift' | 'brightness' | 'cover' | 'transform' | 'look-alike' | 'paper-pattern' | 'random-key' | 'query-climb';
  /** Near-miss distance (cells) or brightness factor, where it applies. */
  parameter?: number;
  count: number;
  mean: number;
  worst: number;
  above20: number;
  above50: number;
  /** Whether the forgery is one the targets bound (>= 2 cells, >= 1 px shift, <= 75% brightness, keys ...). */
  bounded: boolean;
}

export interface AuditReport {
  authorizedAccuracy: number;
  unauthorizedAccuracy: number;
  testImages: number;
  samplesPerForgery: number;
  groups: ForgeryGroup[];
  /** Over every bounded forgery: the figures the targets speak of. */
  boundedMean: number;
  boundedWorst: number;
  guesses: GuessEstimate;
  /** The probability climb (query-attack.ts); absent in reports from before it. */
  queryClimb?: QueryClimbReport;
  seconds: number;
}

export interface QueryClimbReport {
  /** The attacker's labelled images (every query is one pattern on all of them) and the step cap. */
  attackerImages: number;
  maxSteps: number;
  /** From the real pattern at the real place with `cells` cells changed: how many climbs got back (>= unlockAt). */
  basin: { cells: number; starts: number; recovered: number; bestAccuracy: number; meanSteps: number }[];
  /** The largest number of cells off from which a climb got back; null when none did. */
  radius: number | null;
  /** From random patterns at random public places: the attack without the key. */
  blind: { starts: number; best: number; mean: number; unlocked: number; meanSteps: number; meanQueries: number };
  cost: ClimbCost;
  /** Images put through the model by the climbs (their queries times the attacker's images). */
  forwards: number;
  seconds: number;
}

interface Planned {
  group: Omit<ForgeryGroup, 'count' | 'mean' | 'worst' | 'above20' | 'above50'>;
  stamps: Stamp[];
  /** For the near-miss curve: the distance and whether every variant is in `stamps`. */
  curve?: { distance: number; exhaustive: boolean };
  /** For the query climb: the climbs whose end patterns `stamps` are, and from how many cells off (basin) or blind. */
  climbs?: { climbs: Climb[]; cells: number | null };
}

export async function auditLock(o: AuditOptions): Promise<AuditReport> {
  const start = performance.now();
  const log = o.log ?? (() => {});
  const { dataset: ds, settings } = o;
  const real = settings.token;
  const levels = settings.levels;
  const rng = new Rng((o.seed ?? 0) * 7919 + 424242);
  const perDistance = o.perDistance ?? 200;
  const maxDistance = Math.min(o.maxDistance ?? 8, real.h * real.w);
  const unlockAt = o.unlockAt ?? 0.5;
  const anchored = settings.placement.mode !== 'random';
  const home = fixedPosition(stampPlacement(settings.placement), real, ds.h, ds.w);
  const at = (token = real) => ({ token, ...home });
  const cells = real.h * real.w;
  const colours = (levels ?? 2) ** real.c;
  // Every forgery is scored on the same images, balanced over the classes (forgery-scores.ts).
  const scored = classBalancedSample(ds, o.samples ?? 500);

  const plan: Planned[] = [];
  // Near-miss curve. d = 1 is enumerated: every cell times every other colour.
  const one: Stamp[] = oneCellVariants(real, levels).map((v) => at(v.token));
  plan.push({
    group: { label: 'cells changed: 1', family: 'cells', parameter: 1, bounded: false },
    stamps: one,
    curve: { distance: 1, exhaustive: true },
  });
  for (let d = 2; d <= maxDistance; d++) {
    const stamps = Array.from({ length: perDistance }, () => at(changeCells(real, d, rng, levels)));
    plan.push({
      group: { label: `cells changed: ${d}`, family: 'cells', parameter: d, bounded: true },
      stamps,
      curve: { distance: d, exhaustive: false },
    });
  }
  // Past the curve, up to every cell: the bound is on every variant with 2 or more cells changed, and a
  // pattern unrelated to the real one at its place is one too. Measured on an older demo model: 10 of 1,100
  // such variants at 21-24% (24 to 32 cells changed) while the curve to 8 stayed below 6%. Their own stream,
  // so that adding them left every other group's draws as they were.
  if (maxDistance < cells) {
    const farRng = new Rng((o.seed ?? 0) * 7919 + 535353);
    const span = cells - maxDistance;
    plan.push({
      group: { label: `cells changed: ${maxDistance + 1}-${cells}`, family: 'cells', bounded: true },
      stamps: Array.from({ length: perDistance }, () => at(changeCells(real, maxDistance + 1 + farRng.int(span), farRng, levels))),
    });
  }
  if (anchored) {
    for (const radius of [1, 2]) {
      const stamps = shifts(real, home.y, home.x, radius, ds.h, ds.w)
        .filter(({ dy, dx }) => Math.max(Math.abs(dy), Math.abs(dx)) === radius)
        .map(({ dy, dx }) => ({ token: real, y: home.y + dy, x: home.x + dx }));
      plan.push({ group: { label: `shifted ${radius} px`, family: 'shift', parameter: radius, bounded: true }, stamps });
    }
  }
  for (const f of [0.25, 0.35, 0.5, 0.6, 0.75, 0.85, 0.9, 0.95, 1.25, 1.5, 2]) {
    plan.push({
      group: { label: `brightness ${Math.round(f * 100)}%`, family: 'brightness', parameter: f, bounded: f <= 0.75 },
      stamps: [at(scaleBrightness(real, f))],
    });
  }
  // A cover is bounded like changed cells: by how many cells look changed on the scored images (a cover that
  // uncovers one white cell over a black background is a one-cell variant; shownDistance in near-miss.ts).
  const background = placeBackground(scored.images, scored.n, ds.c, ds.h, ds.w, home, real.h, real.w);
  for (const mode of ['unpainted', 'black'] as const) {
    const far: Stamp[] = [];
    const near: Stamp[] = [];
    for (let attempt = 0; far.length < COVERS && attempt < 40 * COVERS; attempt++) {
      const t = coverPart(real, 0.25 + 0.5 * rng.next(), rng, mode);
      if (shownDistance(t, real, background) >= 2) far.push(at(t));
      else if (near.length < COVERS) near.push(at(t));
    }
    plan.push({
      group: { label: `a quarter to three quarters covered (${mode}), >= 2 cells look changed`, family: 'cover', bounded: true },
      stamps: far,
    });
    if (near.length)
      plan.push({ group: { label: `covered (${mode}), at most 1 cell looks changed`, family: 'cover', bounded: false }, stamps: near });
  }
  // Moved patterns (mirrored, rotated, inverted, rolled) are bounded like covers, by the cells that look
  // changed: a near-symmetric pattern's mirror can be a one-cell variant. The very same pattern is dropped.
  const moved = transformedTokens(real).filter((t) => !tokensEqual(t, real));
  const farMoved = moved.filter((t) => shownDistance(t, real, background) >= 2);
  plan.push({
    group: { label: 'mirrored, rotated, inverted or rolled in its frame', family: 'transform', bounded: true },
    stamps: farMoved.map((t) => at(t)),
  });
  if (farMoved.length < moved.length)
    plan.push({
      group: { label: 'mirrored, rotated, inverted or rolled, at most 1 cell looks changed', family: 'transform', bounded: false },
      stamps: moved.filter((t) => !farMoved.includes(t)).map((t) => at(t)),
    });
  const around = anchored ? [{ dy: 0, dx: 0 }, ...shifts(real, home.y, home.x, 2, ds.h, ds.w)] : [{ dy: 0, dx: 0 }];
  const looks = Array.from({ length: 200 }, () => {
    const { dy, dx } = around[rng.int(around.length)]!;
    return { token: lookAlike(real, rng, levels), y: home.y + dy, x: home.x + dx };
  });
  plan.push({
    group: { label: 'look-alike patterns at or within 2 px of the real place', family: 'look-alike', bounded: true },
    stamps: looks,
  });
  const papers = PAPER_TOKEN_NAMES.map((name) => makeToken(name, real.c)).filter((t) => !tokensEqual(t, real));
  plan.push({
    group: { label: "the paper's public patterns at the real place", family: 'paper-pattern', bounded: true },
    stamps: papers.map((t) => ({ token: t, y: Math.min(home.y, ds.h - t.h), x: Math.min(home.x, ds.w - t.w) })),
  });
  const keys: Stamp[] = [];
  for (let k = 0; k < (o.randomKeys ?? 1000); k++) {
    const key = `audit-key-${rng.nextU32().toString(16)}-${rng.nextU32().toString(16)}`;
    const keyed = await deriveKeyedToken(key, {
      channels: real.c,
      size: real.h,
      levels: levels ?? DEFAULT_LEVELS,
      keyedPosition: settings.placement.mode === 'at',
      places: settings.placement.mode === 'at' ? settings.placement.among : undefined,
      H: ds.h,
      W: ds.w,
    });
    keys.push({ token: keyed.token, ...(keyed.position ?? (anchored ? home : randomSpot(keyed.token, ds.h, ds.w, rng))) });
  }
  plan.push({ group: { label: 'random other keys (own pattern and place)', family: 'random-key', bounded: true }, stamps: keys });

  // The probability climb (query-attack.ts), on its own stream so that every group above keeps its draws.
  const climbStart = performance.now();
  const climbRng = new Rng((o.seed ?? 0) * 7919 + 616161);
  const { images: climbImages, perBasin, blind: blindCount } = climbSizes(perDistance, cells * (colours - 1));
  const attacker = { model: o.model, images: attackerImages(ds, climbImages), normalization: o.normalization, levels };
  const basinCells = BASIN_DISTANCES.filter((k) => k <= cells);
  const blindStarts = Array.from({ length: blindCount }, () => {
    const token = lookAlike(real, climbRng, levels);
    // Where a keyless attacker starts: one of the public places keys draw from, or the place itself when it is public.
    const among = settings.placement.mode === 'at' ? settings.placement.among : undefined;
    return { token, ...(settings.placement.mode === 'at' || !anchored ? randomSpot(token, ds.h, ds.w, climbRng, among) : home) };
  });
  const basinStarts = basinCells.flatMap((k) => Array.from({ length: perBasin }, () => at(changeCells(real, k, climbRng, levels))));
  log(
    `audit: probability climbs from ${basinStarts.length} near starts and ${blindStarts.length} blind ones (${attacker.images.n} images each query)`,
  );
  const climbs = await climb(attacker, [...basinStarts, ...blindStarts]);
  basinCells.forEach((k, i) => {
    const own = climbs.slice(i * perBasin, (i + 1) * perBasin);
    plan.push({
      group: { label: `probability climb from the real pattern, ${k} cells changed`, family: 'query-climb', parameter: k, bounded: false },
      stamps: own.map((c) => c.end),
      climbs: { climbs: own, cells: k },
    });
  });
  const blind = climbs.slice(basinStarts.length);
  plan.push({
    group: { label: 'probability climb from random patterns at random public places', family: 'query-climb', bounded: true },
    stamps: blind.map((c) => c.end),
    climbs: { climbs: blind, cells: null },
  });
  const climbSeconds = (performance.now() - climbStart) / 1000;

  const setup = { model: o.model, dataset: scored, normalization: o.normalization, samples: scored.n };
  const all = plan.flatMap((p) => p.stamps);
  log(`audit: ${all.length} forgeries x ${scored.n} images`);
  const scores = await scoreStamps(setup, all);
  const groups: ForgeryGroup[] = [];
  const curve: DistanceCount[] = [];
  let offset = 0;
  const bounded: number[] = [];
  let unlockingShifts = 0;
  let farFailed = true;
  const climbed: { scores: number[]; climbs: Climb[]; cells: number | null }[] = [];
  for (const p of plan) {
    const s = Array.from(scores.subarray(offset, offset + p.stamps.length));
    offset += p.stamps.length;
    const g: ForgeryGroup = {
      ...p.group,
      count: s.length,
      mean: mean(s),
      worst: Math.max(...s),
      above20: s.filter((x) => x > 0.2).length,
      above50: s.filter((x) => x > 0.5).length,
    };
    groups.push(g);
    if (g.bounded) bounded.push(...s);
    const unlocked = s.filter((x) => x >= unlockAt).length;
    if (p.curve) curve.push({ distance: p.curve.distance, tried: s.length, unlocked, exhaustive: p.curve.exhaustive });
    if (p.climbs) climbed.push({ scores: s, ...p.climbs });
    if (g.family === 'shift') unlockingShifts += unlocked;
    if (g.family === 'random-key' || g.family === 'look-alike' || (g.family === 'cells' && !p.curve)) farFailed &&= unlocked === 0;
  }
  const places = settings.placement.mode === 'at' ? (settings.placement.among?.length ?? placeCount(real.h, ds.h, ds.w)) : 1;
  const guesses = estimateGuesses({ cells, colours, places, unlockingShifts, curve, farFailed });
  const queryClimb = climbReport(climbed, { cells, colours, places, unlockAt, images: attacker.images.n, seconds: climbSeconds });
  const report: AuditReport = {
    authorizedAccuracy: await authorizedAccuracy({ model: o.model, dataset: ds, settings, normalization: o.normalization }),
    unauthorizedAccuracy: await unauthorizedAccuracy({ model: o.model, dataset: ds, settings, normalization: o.normalization }),
    testImages: ds.n,
    samplesPerForgery: scored.n,
    groups,
    boundedMean: mean(bounded),
    boundedWorst: bounded.length ? Math.max(...bounded) : 0,
    guesses,
    queryClimb,
    seconds: (performance.now() - start) / 1000,
  };
  return report;
}

/**
 * The attacker's labelled images: spread over the classes like the scored ones, but taken from the end of the
 * set, so that (on a set of more than twice the samples) its queries never see an image the audit scores.
 */
function attackerImages(ds: ImageDataset, n: number): ImageDataset {
  const fromTheEnd = Array.from({ length: ds.n }, (_, i) => ds.n - 1 - i);
  return classBalancedSample(subset(ds, fromTheEnd, `${ds.name} (from the end)`), n);
}

/** The climbs' figures: the basin per distance and its radius, the blind attack, and what it costs (query-attack.ts). */
function climbReport(
  climbed: readonly { scores: number[]; climbs: Climb[]; cells: number | null }[],
  g: { cells: number; colours: number; places: number; unlockAt: number; images: number; seconds: number },
): QueryClimbReport {
  const basin = climbed
    .filter((c) => c.cells !== null)
    .map((c) => ({
      cells: c.cells!,
      starts: c.scores.length,
      recovered: c.scores.filter((x) => x >= g.unlockAt).length,
      bestAccuracy: Math.max(0, ...c.scores),
      meanSteps: mean(c.climbs.map((x) => x.steps)),
    }));
  const got = basin.filter((b) => b.recovered > 0).map((b) => b.cells);
  const radius = got.length ? Math.max(...got) : null;
  const b = climbed.find((c) => c.cells === null)!;
  const blind = {
    starts: b.scores.length,
    best: Math.max(0, ...b.scores),
    mean: mean(b.scores),
    unlocked: b.scores.filter((x) => x >= g.unlockAt).length,
    meanSteps: mean(b.climbs.map((x) => x.steps)),
    meanQueries: mean(b.climbs.map((x) => x.queries)),
  };
  const cost = climbCost({ ...g, radius: radius ?? 1, queriesPerClimb: blind.meanQueries });
  if (radius === null)
    cost.explanation.splice(1, 0, 'no climb got back from the distances tried; R taken as 1 (one cell off, not measured)');
  if (blind.unlocked)
    cost.explanation.push(`but ${blind.unlocked} of ${blind.starts} blind climbs unlocked: the attack works without the key`);
  const queries = climbed.reduce((s, c) => s + c.climbs.reduce((t, x) => t + x.queries, 0), 0);
  return { attackerImages: g.images, maxSteps: CLIMB_STEPS, basin, radius, blind, cost, forwards: queries * g.images, seconds: g.seconds };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The audit as Markdown: targets first, then every group, then the guess computation. */
export function auditMarkdown(r: AuditReport, title = 'M-LOCK audit', header: readonly string[] = []): string {
  const lines = [
    `# ${title}`,
    '',
    ...(header.length ? [...header, ''] : []),
    `Test images: ${r.testImages} (authorized/unauthorized), ${r.samplesPerForgery} per forgery. Time ${r.seconds.toFixed(0)} s.`,
    '',
    `| measure | images | accuracy |`,
    `| --- | ---: | ---: |`,
    `| with the token (authorized) | ${r.testImages} | ${pct(r.authorizedAccuracy)} |`,
    `| without the token (unauthorized) | ${r.testImages} | ${pct(r.unauthorizedAccuracy)} |`,
    `| bounded forgeries (>= 2 cells, >= 1 px, <= 75% brightness, covers, look-alikes, keys, blind climbs): mean | ${r.samplesPerForgery} each | ${pct(r.boundedMean)} |`,
    `| bounded forgeries: worst | ${r.samplesPerForgery} | ${pct(r.boundedWorst)} |`,
    '',
    `Expected guesses to unlock: ${Number.isFinite(r.guesses.log2Guesses) ? `2^${r.guesses.log2Guesses.toFixed(1)} (token space 2^${r.guesses.log2TokenSpace.toFixed(1)})` : 'no estimate (locality fails; see below)'}.`,
    '',
    `| forgery (${r.samplesPerForgery} images each) | count | mean | worst | > 20% | > 50% |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.groups.map(
      (g) =>
        `| ${g.label}${g.bounded ? '' : ' (reported only)'} | ${g.count} | ${pct(g.mean)} | ${pct(g.worst)} | ${g.above20} | ${g.above50} |`,
    ),
    '',
    '## Expected guesses, computed',
    '',
    ...r.guesses.explanation.map((l) => `    ${l}`),
    '',
    ...(r.queryClimb ? climbMarkdown(r.queryClimb) : []),
  ];
  return lines.join('\n');
}

/** The probability climb: the basin per distance, the blind attack, and its cost computed. */
function climbMarkdown(q: QueryClimbReport): string[] {
  return [
    '## Probability climb (query attack), computed',
    '',
    `Each climb takes the single cell change that most raises the mean probability of the true labels on ${q.attackerImages} labelled images, up to ${q.maxSteps} changes; it got back when its end pattern answers right on at least half the scored images.`,
    '',
    '| start | climbs | got back | best end accuracy | mean changes taken |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...q.basin.map(
      (b) =>
        `| real pattern, ${b.cells} cells changed | ${b.starts} | ${b.recovered} | ${pct(b.bestAccuracy)} | ${b.meanSteps.toFixed(1)} |`,
    ),
    `| random pattern at a random public place | ${q.blind.starts} | ${q.blind.unlocked} | ${pct(q.blind.best)} (mean ${pct(q.blind.mean)}) | ${q.blind.meanSteps.toFixed(1)} |`,
    '',
    `Basin radius R: ${q.radius === null ? 'none (no climb got back)' : `${q.radius} cells`}. Blind climbs queried ${q.blind.meanQueries.toFixed(0)} patterns each on average. Time ${q.seconds.toFixed(1)} s, ${q.forwards} images through the model.`,
    '',
    ...q.cost.explanation.map((l) => `    ${l}`),
    '',
  ];
}
