/**
 * The reproduction report (`npm run report`): the paper's datasets x its three strategies, each with the
 * unlocked baseline, over several seeds, with the lock's audit in every locked row and the white-box attacks
 * on MNIST and CIFAR-10. What runs is report-plan.ts's; every row is one training run in its own folder,
 * cached with its settings, code version and adapter (report-cache.ts), so an interrupted report continues
 * where it stopped and a changed row is run again. After every row the report and its figures are written
 * again from the finished rows (report-summary.ts, report-markdown.ts, report-figures.ts).
 *
 *   npm run report                    the CPU plan: mlock/REPORT.md, report.json and the figures
 *   npm run report -- --quick         tiny subsets, 1 epoch: runs/report-quick/, and mlock/report-speeds.json
 *   npm run report -- --scale paper   the GPU plan (width 128): mlock/REPORT-paper.md
 *   npm run report -- --render        only write the report again from the cached rows (no engine, no training)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { adapterLabel, initEngine, runtime } from '../engine/node.js';
import { writeFileAtomic, decodeModelInto } from '../engine/io/node/index.js';
import { loadDataset, projectRoot, sharedDataPath, type ImageDataset } from '../engine/data/node/index.js';
import { buildModel, type Module } from '../engine/nn/index.js';
import { whiteBoxAttacks, type WhiteBoxResult } from './attacks.js';
import { auditLock } from './audit.js';
import type { Values } from './cli-schema.js';
import { wipe } from './keyed.js';
import { provenance } from './provenance.js';
import { estimatePlan, speedsFromRows, withRowSpeeds, type DatasetSpeed, type MeasuredSpeeds } from './report-budget.js';
import {
  claimRowFolder,
  codeVersion,
  elapsedRowSeconds,
  readFinishedRow,
  recordRowSeconds,
  rowCode,
  writeFinishedRow,
  type CodeVersion,
  type RowRecord,
} from './report-cache.js';
import { accuracyFigureSvg, nearMissFigureSvg } from './report-figures.js';
import { renderReport } from './report-markdown.js';
import { planRows, reportPlan, rowPath, type DatasetPlan, type ReportScale, type RowId, type RowKind } from './report-plan.js';
import { baselineMisses, strategyMisses, summarize, type RowResult } from './report-summary.js';
import { keyFingerprint } from './run-folder.js';
import type { LockSettings } from './lock-plan.js';
import { effectiveRecipe, loadRunData, run, type EpochLog, type RunOptions, type RunReport, type TrainedBaseline } from './run.js';
import { readModelMetadata } from './runtime.js';
import { tokenForModel } from './token-spec.js';
import { plainModelBytes } from './sealed-model.js';

/** The report's key. Not a secret: the report publishes figures, not models to serve. */
const KEY = 'mlock report key';

interface Outputs {
  runs: string;
  markdown: string;
  /** The summaries as JSON, next to the Markdown. */
  json: string;
  accuracySvg: string;
  nearMissSvg: string;
}

function outputsFor(scale: ReportScale, root: string): Outputs {
  if (scale === 'quick') {
    const dir = join(root, 'runs', 'report-quick');
    return {
      runs: dir,
      markdown: join(dir, 'REPORT.md'),
      json: join(dir, 'report.json'),
      accuracySvg: join(dir, 'report-accuracy.svg'),
      nearMissSvg: join(dir, 'report-near-miss.svg'),
    };
  }
  const tag = scale === 'paper' ? '-paper' : '';
  return {
    runs: join(root, 'runs', `report-${scale}`),
    markdown: join(root, 'mlock', `REPORT${tag}.md`),
    json: join(root, 'mlock', `report${tag}.json`),
    accuracySvg: join(root, 'mlock', `report${tag}-accuracy.svg`),
    nearMissSvg: join(root, 'mlock', `report${tag}-near-miss.svg`),
  };
}

const speedsPath = (root: string) => join(root, 'mlock', 'report-speeds.json');

/** The run a row is, as options of run(). */
function runOptions(p: DatasetPlan, kind: RowKind, seed: number): RunOptions {
  return {
    dataset: p.dataset,
    dataPath: p.dataFile ? sharedDataPath(p.dataFile) : undefined,
    width: p.width ?? undefined,
    strategy: kind === 'baseline' ? null : { name: kind },
    token: { key: KEY },
    epochs: p.epochs,
    lockEpochs: kind === 'baseline' ? undefined : p.lockEpochs,
    seed,
    trainSubset: p.trainSubset,
    testSubset: p.testSubset,
    forgedKeys: p.audit.randomKeys,
    forgedSamples: p.audit.samples,
    auditPerDistance: p.audit.perDistance,
    baseline: false,
    out: '',
    progress: false,
  };
}

/** Everything that decides a row's figures besides the code: what its cache entry is compared on. */
function rowSettings(p: DatasetPlan, kind: RowKind, seed: number): Record<string, unknown> {
  const o = runOptions(p, kind, seed);
  return {
    dataset: p.dataset,
    data: p.dataFile ?? 'default',
    kind,
    seed,
    recipe: effectiveRecipe(o),
    // Locked rows lock their seed's baseline row (its model file): a changed baseline changes them too.
    startsFrom: kind === 'baseline' ? null : { row: rowPath({ dataset: p.dataset, kind: 'baseline', seed }), lockEpochs: p.lockEpochs },
    trainSubset: p.trainSubset ?? null,
    testSubset: p.testSubset ?? null,
    key: keyFingerprint(KEY),
    audit: kind === 'baseline' ? null : p.audit,
    whiteBoxSteps: kind === 'baseline' ? null : p.whiteBoxSteps,
  };
}

/** A finished row's sealed model, opened with the report's key and built on the GPU (the caller disposes it). */
async function openRowModel(dir: string): Promise<{ model: Module; meta: ReturnType<typeof readModelMetadata> }> {
  const path = join(dir, 'model.safetensors');
  const { plain } = await plainModelBytes(new Uint8Array(await readFile(path)), KEY, { source: path });
  try {
    const meta = readModelMetadata(plain, path);
    const model = buildModel(meta.model.name, {
      inputShape: meta.model.inputShape,
      numClasses: meta.model.numClasses,
      width: meta.model.width,
      dropout: meta.model.dropout,
    });
    decodeModelInto(model, plain, path);
    model.eval();
    return { model, meta };
  } finally {
    wipe(plain);
  }
}

/** A row's splits as its run made them (loadRunData): training, validation and test. */
type RowData = Awaited<ReturnType<typeof loadRunData>>;

/** The file holder's attacks on a finished locked row: its sealed model opened with the key, its own data. */
async function attackRow(
  dir: string,
  data: RowData,
  seed: number | undefined,
  steps: number,
): Promise<{ result: WhiteBoxResult; seconds: number }> {
  const start = performance.now();
  const { model, meta } = await openRowModel(dir);
  try {
    const result = await whiteBoxAttacks({ model, train: data.train, test: data.test, normalization: meta.normalization, seed }, steps);
    return { result, seconds: (performance.now() - start) / 1000 };
  } finally {
    model.dispose();
  }
}

/**
 * The audit of a finished locked row run again on its model, exactly as run() runs it after training (same test
 * images, options and seed; the lock's settings from the model's geometry and the key), for a row whose audit
 * code changed since: its figures in the run's report replaced, the rest of the run kept.
 */
async function auditRowAgain(dir: string, data: RowData, o: RunOptions, log: (s: string) => void): Promise<RunReport> {
  const { model, meta } = await openRowModel(dir);
  try {
    if (!meta.lock) throw new Error(`report: ${dir}/model.safetensors is not locked: the row cannot be audited`);
    const { token, placement, levels } = await tokenForModel(KEY, meta.lock.geometry, meta.model.inputShape);
    const settings: LockSettings = { strategy: { name: meta.lock.strategy }, poisonRatio: 0.5, decoyRatio: 0, levels, token, placement };
    const audit = await auditLock({
      model,
      dataset: data.test,
      settings,
      normalization: meta.normalization,
      seed: o.seed ?? 0,
      randomKeys: o.forgedKeys,
      samples: o.forgedSamples,
      perDistance: o.auditPerDistance,
      log,
    });
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as RunReport;
    const again: RunReport = {
      ...report,
      authorizedAccuracy: audit.authorizedAccuracy,
      unauthorizedAccuracy: audit.unauthorizedAccuracy,
      forgedAccuracy: audit.boundedMean,
      forgedMaxAccuracy: audit.boundedWorst,
      audit,
    };
    await writeFileAtomic(join(dir, 'report.json'), JSON.stringify(again, null, 2) + '\n');
    return again;
  } finally {
    model.dispose();
  }
}

/**
 * What a locked row starts from: its seed's finished baseline row (the plan runs it first), as the model file
 * and the accuracies it wrote.
 */
async function baselineOfRow(runs: string, p: DatasetPlan, row: RowId, code: CodeVersion, adapter: string): Promise<TrainedBaseline> {
  const id: RowId = { dataset: row.dataset, kind: 'baseline', seed: row.seed };
  const dir = join(runs, rowPath(id));
  const found = await readFinishedRow<RowResult>(dir, rowSettings(p, 'baseline', row.seed), code, false, adapter);
  const base = found && found.state !== 'audit-changed' ? found.record : null;
  if (!base) throw new Error(`report: ${rowPath(row)} locks ${rowPath(id)}, which has not finished with this code and adapter`);
  const history = JSON.parse(await readFile(join(dir, 'history.json'), 'utf8')) as EpochLog[];
  const selected = history[base.result.run.bestEpoch - 1];
  if (!selected || base.result.run.testAccuracy === null)
    throw new Error(`report: ${dir} has no selected epoch or test accuracy (history.json, report.json): run the row again`);
  return {
    weights: new Uint8Array(await readFile(join(dir, 'model.safetensors'))),
    validationAccuracy: selected.valAccuracy,
    testAccuracy: base.result.run.testAccuracy,
  };
}

/** The dataset's full splits, loaded once for all its rows (one dataset held at a time). */
export class DatasetCache {
  private held: { dataset: string; splits: { train: ImageDataset; test: ImageDataset } } | null = null;
  readonly loadSeconds = new Map<string, number>();

  async get(p: DatasetPlan): Promise<{ train: ImageDataset; test: ImageDataset }> {
    if (this.held?.dataset !== p.dataset) {
      this.held = null;
      const start = performance.now();
      const path = p.dataFile ? sharedDataPath(p.dataFile) : undefined;
      const splits = { train: await loadDataset(p.dataset, 'train', { path }), test: await loadDataset(p.dataset, 'test', { path }) };
      this.loadSeconds.set(p.dataset, (performance.now() - start) / 1000);
      this.held = { dataset: p.dataset, splits };
    }
    return this.held.splits;
  }
}

/**
 * One row: its cached result when nothing about it changed; its audit and white-box attacks run again on its
 * model when only the audit's code changed; else the run (resumed when it was interrupted).
 */
export async function runRow(
  runs: string,
  p: DatasetPlan,
  row: RowId,
  code: CodeVersion,
  adapter: string,
  data: DatasetCache,
  log: (s: string) => void,
): Promise<RowRecord<RowResult>> {
  const dir = join(runs, rowPath(row));
  const settings = rowSettings(p, row.kind, row.seed);
  const audited = row.kind !== 'baseline';
  const id = { settings, code: rowCode(code, audited), adapter };
  const found = await readFinishedRow<RowResult>(dir, settings, code, audited, adapter);
  if (found?.state === 'current') return found.record;
  if (found?.state === 'older-form') return writeFinishedRow(dir, id, found.record.result, found.record.finished);
  if (found?.state === 'audit-changed') {
    log(`== ${rowPath(row)} (trained with this code; its audit changed, so it is audited again)`);
    const o = { ...runOptions(p, row.kind, row.seed), loaded: await data.get(p) };
    // The splits once, for the audit and the attacks alike.
    const rowData = await loadRunData(o);
    const run = await auditRowAgain(dir, rowData, o, (s) => log(`  ${s}`));
    let { whiteBox, whiteBoxSeconds } = found.record.result;
    if (p.whiteBoxSteps !== null) {
      log('  white-box attacks (fine-tuning on 1% of clean data, trigger search)');
      ({ result: whiteBox, seconds: whiteBoxSeconds } = await attackRow(dir, rowData, o.seed, p.whiteBoxSteps));
    }
    return writeFinishedRow<RowResult>(dir, id, { ...found.record.result, run, whiteBox, whiteBoxSeconds });
  }
  // Before the row's folder is claimed: a row that cannot start leaves nothing behind.
  const startFrom = row.kind === 'baseline' ? undefined : await baselineOfRow(runs, p, row, code, adapter);
  const resume = await claimRowFolder(dir, id);
  const prior = resume ? await elapsedRowSeconds(dir) : 0;
  const session = performance.now();
  log(`== ${rowPath(row)}${resume ? ' (resuming)' : ''}`);
  const o: RunOptions = {
    ...runOptions(p, row.kind, row.seed),
    startFrom,
    out: dir,
    resume,
    priorSeconds: prior,
    loaded: await data.get(p),
    log: (s) => {
      log(`  ${s}`);
      recordRowSeconds(dir, prior + (performance.now() - session) / 1000);
    },
    provenance: { ...provenance() },
  };
  const report = await run(o);
  const history = JSON.parse(await readFile(join(dir, 'history.json'), 'utf8')) as EpochLog[];
  const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
  const images = history.reduce((s, h) => s + h.imagesPerSecond * h.seconds, 0);
  let whiteBox: WhiteBoxResult | null = null;
  let whiteBoxSeconds = 0;
  if (row.kind !== 'baseline' && p.whiteBoxSteps !== null) {
    log('  white-box attacks (fine-tuning on 1% of clean data, trigger search)');
    ({ result: whiteBox, seconds: whiteBoxSeconds } = await attackRow(dir, await loadRunData(o), o.seed, p.whiteBoxSteps));
  }
  return writeFinishedRow<RowResult>(dir, id, {
    run: report,
    whiteBox,
    whiteBoxSeconds,
    imagesPerSecond: images / trainSeconds,
    trainSeconds,
  });
}

/**
 * The finished rows of the plan with this code: with `adapter` given, those run on it; without (rendering
 * only), those of the adapter most rows ran on, so that adapters are never mixed in one figure either.
 */
async function collectRows(
  runs: string,
  plan: readonly DatasetPlan[],
  code: CodeVersion,
  adapter: string | null,
): Promise<Map<string, RowRecord<RowResult>>> {
  const found: [string, RowRecord<RowResult>][] = [];
  for (const row of planRows(plan)) {
    const p = plan.find((x) => x.dataset === row.dataset)!;
    const r = await readFinishedRow<RowResult>(
      join(runs, rowPath(row)),
      rowSettings(p, row.kind, row.seed),
      code,
      row.kind !== 'baseline',
      adapter,
    );
    if (r && r.state !== 'audit-changed') found.push([rowPath(row), r.record]);
  }
  const counts = new Map<string, number>();
  for (const [, r] of found) counts.set(r.adapter, (counts.get(r.adapter) ?? 0) + 1);
  const main = adapter ?? [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  return new Map(found.filter(([, r]) => r.adapter === main));
}

async function readSpeeds(root: string): Promise<MeasuredSpeeds | null> {
  const text = await readFile(speedsPath(root), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as MeasuredSpeeds);
}

async function writeOutputs(
  scale: ReportScale,
  plan: readonly DatasetPlan[],
  out: Outputs,
  code: CodeVersion,
  adapter: string | null,
  command: string,
): Promise<number> {
  const root = projectRoot();
  const records = await collectRows(out.runs, plan, code, adapter);
  const rows = new Map([...records].map(([k, r]) => [k, r.result]));
  const summary = summarize(plan, rows);
  const all = planRows(plan).map(rowPath);
  const speeds = withRowSpeeds(await readSpeeds(root), plan, rows);
  const p = provenance();
  const markdown = renderReport({
    scale,
    command,
    date: new Date().toISOString(),
    code,
    commit: p.commit,
    uncommittedChanges: p.uncommittedChanges,
    plan,
    summary,
    totalRows: all.length,
    pending: all.filter((r) => !rows.has(r)),
    speeds,
    estimate: estimatePlan(plan, speeds),
    paperPlan: scale === 'cpu' && !existsSync(outputsFor('paper', root).markdown) ? reportPlan('paper') : null,
    // The figures sit next to the Markdown file.
    figures: { accuracy: basename(out.accuracySvg), nearMiss: basename(out.nearMissSvg) },
  });
  await writeFileAtomic(out.markdown, markdown);
  const misses = {
    baselines: summary.baselines.map((b) => ({ dataset: b.dataset, misses: baselineMisses(b) })),
    strategies: summary.strategies.map((x) => ({
      dataset: x.dataset,
      strategy: x.strategy,
      misses: strategyMisses(
        x,
        summary.baselines.find((b) => b.dataset === x.dataset),
      ),
    })),
  };
  await writeFileAtomic(
    out.json,
    JSON.stringify({ scale, code, provenance: p, plan, rows: { total: all.length, finished: rows.size }, summary, misses }, null, 2) + '\n',
  );
  await writeFileAtomic(out.accuracySvg, accuracyFigureSvg(summary) + '\n');
  await writeFileAtomic(out.nearMissSvg, nearMissFigureSvg(summary) + '\n');
  return rows.size;
}

/** The quick report's rows as the speeds the estimate scales (datasets loaded in this session only). */
async function saveSpeeds(
  root: string,
  plan: readonly DatasetPlan[],
  runs: string,
  code: CodeVersion,
  adapter: string,
  data: DatasetCache,
  load: number[],
): Promise<MeasuredSpeeds> {
  const records = await collectRows(runs, plan, code, adapter);
  const previous = await readSpeeds(root);
  const datasets: DatasetSpeed[] = [];
  for (const p of plan) {
    const loadSeconds = data.loadSeconds.get(p.dataset);
    const mine = [...records].filter(([k]) => k.startsWith(`${p.dataset}/`)).map(([, r]) => r.result);
    const measured = loadSeconds === undefined ? null : speedsFromRows(p.dataset, p.width, mine, loadSeconds);
    const kept = previous?.datasets.find((d) => d.dataset === p.dataset);
    if (measured ?? kept) datasets.push(measured ?? kept!);
  }
  const speeds: MeasuredSpeeds = { date: new Date().toISOString(), adapter, code: code.hash, loadAverage: load, datasets };
  await writeFileAtomic(speedsPath(root), JSON.stringify(speeds, null, 2) + '\n');
  return speeds;
}

export async function reportCommand(values: Values): Promise<void> {
  const scale: ReportScale = values.quick ? 'quick' : (values.scale ?? 'cpu');
  const plan = reportPlan(scale, { width: values.width, cnnSeeds: values.seeds });
  const root = projectRoot();
  const out = outputsFor(scale, root);
  const code = codeVersion(root);
  const flags = [
    values.quick ? '--quick' : '',
    values.scale ? `--scale ${values.scale}` : '',
    values.width ? `--width ${values.width}` : '',
    values.seeds ? `--seeds ${values.seeds}` : '',
  ].filter(Boolean);
  const command = `npm run report${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
  const log = (s: string) => console.log(s);
  if (values.render) {
    const n = await writeOutputs(scale, plan, out, code, null, command);
    log(`wrote ${out.markdown} and its figures from ${n} cached rows (code version ${code.hash})`);
    return;
  }
  const load = loadavg();
  await initEngine();
  const adapter = adapterLabel(runtime().info);
  if (scale === 'paper' && runtime().info.isFallbackAdapter) {
    throw new Error(
      `report --scale paper is the GPU plan (VGG width 128, 3 seeds): this machine has only the software adapter ${adapter}, where it would take days; run it on a GPU machine`,
    );
  }
  log(`report (${scale}) on ${adapter}, code version ${code.hash}; rows under ${out.runs}`);
  const data = new DatasetCache();
  const rows = planRows(plan);
  for (const row of rows) {
    const p = plan.find((x) => x.dataset === row.dataset)!;
    await runRow(out.runs, p, row, code, adapter, data, log);
    const n = await writeOutputs(scale, plan, out, code, adapter, command);
    log(`wrote ${out.markdown} (${n} of ${rows.length} rows finished)`);
  }
  if (scale === 'quick') {
    const speeds = await saveSpeeds(root, plan, out.runs, code, adapter, data, load);
    const cpu = estimatePlan(reportPlan('cpu'), speeds);
    log(
      `measured speeds in mlock/report-speeds.json; the CPU plan would take ${(cpu.reduce((s, e) => s + (e?.seconds ?? 0), 0) / 3600).toFixed(1)} h at them`,
    );
  }
}
