/**
 * How long a report plan takes, from measured speeds. `report --quick` trains the CPU plan's models for one
 * epoch on small subsets and audits them lightly; its rows give, per dataset, the training speed (images per
 * second through forward, backward and update, with the lock's stamping) and the audit's scoring speed
 * (forward passes per second), and it writes them to mlock/report-speeds.json. The estimate scales them to
 * a plan's full datasets, epochs, validation passes, audit and white-box attacks. A plan whose width differs
 * from the measured one is scaled by (width ratio)^2, the VGG's FLOPs: rough, and the header says so.
 */
import { BASIN_DISTANCES, climbSizes, type AuditReport } from './audit.js';
import { CLIMB_STEPS } from './query-attack.js';
import type { DatasetPlan, ReportDataset, RowKind } from './report-plan.js';
import { ROW_KINDS } from './report-plan.js';
import { KIND_PROBES } from './hard-kinds.js';
import { DECOY_MIX } from './near-miss.js';
import type { RowResult } from './report-summary.js';

export interface DatasetSpeed {
  dataset: ReportDataset;
  /** The VGG width measured (null: the MLP). */
  width: number | null;
  trainImagesPerSecond: number;
  scoreImagesPerSecond: number;
  /** Loading the full train and test splits once (decompressing, decoding). */
  loadSeconds: number;
  /** Measured on this many of the plan's own finished rows (full data) rather than by `report --quick`. */
  fromRows?: number;
}

export interface MeasuredSpeeds {
  date: string;
  adapter: string;
  /** The code version (report-cache.ts) the speeds were measured with. */
  code: string;
  /** The machine's load average when the measurement started: others share its 2 cores. */
  loadAverage: number[];
  datasets: DatasetSpeed[];
}

/**
 * Forward passes the audit made: every forgery on its images, authorized plus unauthorized accuracy, and the
 * probability climbs' queries (each on the attacker's images).
 */
export function auditForwards(a: AuditReport): number {
  return a.groups.reduce((s, g) => s + g.count, 0) * a.samplesPerForgery + 2 * a.testImages + (a.queryClimb?.forwards ?? 0);
}

/** At most what the audit's probability climbs query (audit.ts's sizes; a climb stopped early queries less). */
function climbForwards(p: DatasetPlan): number {
  const candidates = oneCellVariants(p);
  const { images, perBasin, blind } = climbSizes(p.audit.perDistance, candidates);
  return (BASIN_DISTANCES.length * perBasin + blind) * (1 + CLIMB_STEPS * candidates) * images;
}

/** A dataset's speeds from its finished rows (the quick report's). */
export function speedsFromRows(
  dataset: ReportDataset,
  width: number | null,
  rows: readonly RowResult[],
  loadSeconds: number,
): DatasetSpeed | null {
  const audited = rows.filter((r) => r.run.audit);
  if (!rows.length || !audited.length) return null;
  const train = rows.reduce((s, r) => s + r.trainSeconds, 0);
  const images = rows.reduce((s, r) => s + r.imagesPerSecond * r.trainSeconds, 0);
  const forwards = audited.reduce((s, r) => s + auditForwards(r.run.audit!), 0);
  const scoring = audited.reduce((s, r) => s + r.run.audit!.seconds, 0);
  return { dataset, width, trainImagesPerSecond: images / train, scoreImagesPerSecond: forwards / scoring, loadSeconds };
}

/**
 * The quick report's speeds, except for each dataset of which the plan has finished locked rows: measured on
 * those instead (the full data and the plan's audit: what the rest of the plan will run at, where the quick
 * report's tiny subsets are pessimistic). Without quick speeds nothing is measured for the other datasets.
 */
export function withRowSpeeds(
  quick: MeasuredSpeeds | null,
  plan: readonly DatasetPlan[],
  rows: ReadonlyMap<string, RowResult>,
): MeasuredSpeeds | null {
  if (!quick) return null;
  const datasets = plan.flatMap((p): DatasetSpeed[] => {
    const kept = quick.datasets.find((d) => d.dataset === p.dataset);
    const mine = [...rows].filter(([k]) => k.startsWith(`${p.dataset}/`)).map(([, r]) => r);
    const measured = speedsFromRows(p.dataset, p.width, mine, kept?.loadSeconds ?? 0);
    if (measured) return [{ ...measured, fromRows: mine.length }];
    return kept ? [kept] : [];
  });
  return { ...quick, datasets };
}

// The lock's defaults (keyed.ts): an 8x8 black-and-white token on greyscale images, 5x5 cells of 8 colours on
// RGB ones; the audit tries every one-cell variant, and hard-cell mining scores them after every epoch.
const oneCellVariants = (p: DatasetPlan) => (p.width === null ? 64 : 25 * 7);
// The audit's fixed groups (audit.ts): shifts by 1-2 px, 11 brightness levels, 100 covers, 16 moved patterns
// (mirrored, rotated, inverted, rolled), 200 look-alikes, the paper's 7 patterns.
const FIXED_FORGERIES = 24 + 11 + 100 + 16 + 200 + 7;
const VALIDATION = 0.1;
// The kinds forgery-kind mining probes after every locked epoch (hard-kinds.ts): those decoy training draws.
const KIND_COUNT = Object.values(DECOY_MIX).filter((w) => w > 0).length;

/** Seconds one row of the plan takes at these speeds (its dataset already loaded). */
export function rowSeconds(p: DatasetPlan, kind: RowKind, s: DatasetSpeed): number {
  const slower = p.width !== null && s.width !== null ? (p.width / s.width) ** 2 : 1;
  const train = s.trainImagesPerSecond / slower;
  const score = s.scoreImagesPerSecond / slower;
  const n = p.trainSubset ?? p.trainImages;
  const test = p.testSubset ?? p.testImages;
  const val = Math.round(VALIDATION * n);
  const fit = n - val;
  const variants = oneCellVariants(p);
  // Per epoch: training, then validation (locked: with and without the token, hard-cell mining's one-cell
  // variants on 100 images, and forgery-kind mining's probes).
  const probes = KIND_COUNT * KIND_PROBES.perKind * Math.min(KIND_PROBES.samples, val);
  const perEpoch = fit / train + (kind === 'baseline' ? val : 2 * val + variants * Math.min(100, val) + probes) / score;
  if (kind === 'baseline') return p.epochs * perEpoch;
  const forgeries = variants + 8 * p.audit.perDistance + FIXED_FORGERIES + p.audit.randomKeys;
  let seconds = p.lockEpochs * perEpoch + (forgeries * Math.min(p.audit.samples, test) + 2 * test + climbForwards(p)) / score;
  // Fine-tuning 5 epochs on 1% (last layer, then all layers), the trigger search's batches of 64.
  if (p.whiteBoxSteps !== null) seconds += (2 * 5 * 0.01 * fit + p.whiteBoxSteps * 64) / train + (4 * test) / score;
  return seconds;
}

export interface DatasetEstimate {
  dataset: ReportDataset;
  rows: number;
  seconds: number;
  /** Whether the speeds are measured at another width (scaled by the width ratio squared). */
  scaled: boolean;
}

/** Per dataset: its rows (every kind, every seed) and their seconds, the load included; null: not measured. */
export function estimatePlan(plan: readonly DatasetPlan[], speeds: MeasuredSpeeds | null): (DatasetEstimate | null)[] {
  return plan.map((p) => {
    const s = speeds?.datasets.find((d) => d.dataset === p.dataset);
    if (!s) return null;
    const perSeed = ROW_KINDS.reduce((sum, kind) => sum + rowSeconds(p, kind, s), 0);
    return {
      dataset: p.dataset,
      rows: ROW_KINDS.length * p.seeds,
      seconds: s.loadSeconds + p.seeds * perSeed,
      scaled: p.width !== s.width,
    };
  });
}

const total = (estimates: readonly (DatasetEstimate | null)[]) => estimates.reduce((s, e) => s + (e?.seconds ?? 0), 0);

/**
 * The most epochs the CNN rows (CIFAR-10 and GTSRB alike) can have with the plan's other settings unchanged
 * so that the whole plan fits `hours` at these speeds: what to write into the budget when speeds change.
 * 0 when even the MLP rows and the CNN audits alone do not fit; null without speeds for every dataset.
 */
export function largestCnnEpochs(plan: readonly DatasetPlan[], speeds: MeasuredSpeeds | null, hours: number): number | null {
  if (estimatePlan(plan, speeds).some((e) => e === null)) return null;
  const at = (epochs: number) =>
    total(
      estimatePlan(
        plan.map((p) => (p.width === null ? p : { ...p, epochs, lockEpochs: epochs })),
        speeds,
      ),
    );
  let epochs = 0;
  while (epochs < 1000 && at(epochs + 1) <= hours * 3600) epochs++;
  return epochs;
}
