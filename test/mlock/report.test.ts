/**
 * The report machinery's pure parts: the row cache (reused only with the same settings, code and adapter),
 * the plans, mean ± sd over seeds, the targets, the time estimate, the Markdown and the figures. Expected
 * values are computed by hand in the test.
 */
import '../helpers/setup.js';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditReport, ForgeryGroup } from '../../mlock/audit.js';
import {
  auditForwards,
  rowSeconds,
  estimatePlan,
  largestCnnEpochs,
  withRowSpeeds,
  type MeasuredSpeeds,
} from '../../mlock/report-budget.js';
import {
  AUDIT_STAGE,
  canonicalJson,
  claimRowFolder,
  codeVersion,
  elapsedRowSeconds,
  readFinishedRow,
  recordRowSeconds,
  rowKey,
  writeFinishedRow,
} from '../../mlock/report-cache.js';
import { accuracyFigureSvg, nearMissFigureSvg } from '../../mlock/report-figures.js';
import { renderReport, type ReportPage } from '../../mlock/report-markdown.js';
import { CPU_BUDGET, planRows, reportPlan, type DatasetPlan } from '../../mlock/report-plan.js';
import { formatStat, stat, strategyMisses, summarize, baselineMisses, type RowResult } from '../../mlock/report-summary.js';
import type { RunReport } from '../../mlock/run.js';
import { DatasetCache, runRow } from '../../mlock/report.js';
import { projectRoot } from '../../engine/data/node/index.js';
import { useEngine } from '../helpers/setup.js';

describe('report cache', () => {
  const settings = { dataset: 'mnist', kind: 'uniform', seed: 0, recipe: { lr: 0.001, epochs: 5 } };
  const codeA = { hash: 'all-a', training: 'train-a', audit: 'audit-a', files: 1, webgpu: 'test' };
  const id = { settings, code: { training: 'train-a', audit: 'audit-a' }, adapter: 'llvmpipe' };

  it('keys a row by its settings, code version and adapter, not by the order of its fields', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 4, e: 5 }] } })).toBe('{"a":{"c":[3,{"e":5,"f":4}],"d":2},"b":1}');
    expect(rowKey({ ...id, settings: { seed: 0, recipe: { epochs: 5, lr: 0.001 }, kind: 'uniform', dataset: 'mnist' } })).toBe(rowKey(id));
    const keys = [
      rowKey(id),
      rowKey({ ...id, settings: { ...settings, seed: 1 } }),
      rowKey({ ...id, settings: { ...settings, recipe: { lr: 0.002, epochs: 5 } } }),
      rowKey({ ...id, code: { ...id.code, training: 'train-b' } }),
      rowKey({ ...id, code: { ...id.code, audit: 'audit-b' } }),
      rowKey({ ...id, adapter: 'SwiftShader' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reuses a finished row only with the same settings, code and adapter; with only the audit changed it says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'report-row-'));
    await writeFinishedRow(dir, id, { accuracy: 0.9 });
    const read = (s = settings, code = codeA, adapter: string | null = 'llvmpipe') =>
      readFinishedRow<{ accuracy: number }>(dir, s, code, true, adapter);
    expect(await read()).toMatchObject({ state: 'current', record: { result: { accuracy: 0.9 } } });
    expect(await read({ ...settings, seed: 1 })).toBeNull();
    expect(await read(settings, { ...codeA, hash: 'all-b', training: 'train-b' })).toBeNull();
    expect(await read(settings, codeA, 'SwiftShader')).toBeNull();
    expect((await read(settings, { ...codeA, hash: 'all-b', audit: 'audit-b' }))?.state).toBe('audit-changed');
    // A row without an audit stage (a baseline) is not one with it.
    expect(await readFinishedRow(dir, settings, codeA, false, 'llvmpipe')).toBeNull();
    // Rendering without a device accepts the row's own adapter.
    expect(await read(settings, codeA, null)).not.toBeNull();
    // A record edited by hand (its identity no longer matches its key) or torn is no finished row.
    const record = JSON.parse(await readFile(join(dir, 'row.json'), 'utf8'));
    await writeFile(join(dir, 'row.json'), JSON.stringify({ ...record, code: { training: 'train-b', audit: 'audit-a' } }));
    expect(await read(settings, { ...codeA, training: 'train-b' })).toBeNull();
    await writeFile(join(dir, 'row.json'), '{"key": "');
    expect(await read()).toBeNull();
  });

  it('takes a row stored before the code had stages as current only when its one hash is the whole code of today', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'report-older-'));
    const older = { settings, code: 'all-a', adapter: 'llvmpipe' };
    await writeFile(join(dir, 'row.json'), JSON.stringify({ key: rowKey(older), ...older, finished: 'then', result: { accuracy: 0.8 } }));
    const found = await readFinishedRow<{ accuracy: number }>(dir, settings, codeA, true, 'llvmpipe');
    expect(found?.state).toBe('older-form');
    expect(found?.record).toMatchObject({ code: id.code, key: rowKey(id), finished: 'then', result: { accuracy: 0.8 } });
    expect(await readFinishedRow(dir, settings, { ...codeA, hash: 'all-b' }, true, 'llvmpipe')).toBeNull();
  });

  it("versions the code by the content of its sources, not by the report's own outputs or files, in two stages", async () => {
    const root = await mkdtemp(join(tmpdir(), 'report-code-'));
    await mkdir(join(root, 'engine'));
    await mkdir(join(root, 'kernels'));
    await mkdir(join(root, 'mlock'));
    await writeFile(join(root, 'package-lock.json'), JSON.stringify({ packages: { 'node_modules/webgpu': { version: '0.6.2' } } }));
    await writeFile(join(root, 'engine', 'a.ts'), 'export const a = 1;');
    await writeFile(join(root, 'mlock', 'run.ts'), 'export const r = 1;');
    await writeFile(join(root, 'mlock', 'audit.ts'), 'export const audit = 1;');
    const v1 = codeVersion(root);
    expect(v1).toMatchObject({ files: 3, webgpu: '0.6.2' });
    await writeFile(join(root, 'mlock', 'REPORT.md'), '# written by the report');
    await writeFile(join(root, 'mlock', 'report-plan.ts'), 'export const plan = 1;');
    expect(codeVersion(root)).toEqual(v1);
    await writeFile(join(root, 'mlock', 'audit.ts'), 'export const audit = 2;');
    const v2 = codeVersion(root);
    expect([v2.hash !== v1.hash, v2.audit !== v1.audit, v2.training === v1.training]).toEqual([true, true, true]);
    await writeFile(join(root, 'engine', 'a.ts'), 'export const a = 2;');
    const v3 = codeVersion(root);
    expect([v3.hash !== v2.hash, v3.training !== v2.training, v3.audit === v2.audit]).toEqual([true, true, true]);
  });

  it('keeps the audit stage out of what trains: only run.ts imports it, to audit once training is over', async () => {
    const mlock = join(projectRoot(), 'mlock');
    const importers = new Map<string, string[]>();
    for (const name of (await readdir(mlock)).filter((n) => n.endsWith('.ts'))) {
      const source = await readFile(join(mlock, name), 'utf8');
      for (const [, target] of source.matchAll(/from '\.\/([\w-]+)\.js'/g))
        importers.set(target!, [...(importers.get(target!) ?? []), name]);
    }
    const stage = (name: string) => AUDIT_STAGE.test(`mlock/${name}`);
    const trainers = [...importers].flatMap(([target, from]) =>
      stage(`${target}.ts`) ? from.filter((f) => !stage(f) && !/^(report[\w-]*|cli|commands)\.ts$/.test(f)) : [],
    );
    expect(new Set(trainers)).toEqual(new Set(['run.ts']));
    // run.ts calls the audit after training, on the trained model only.
    const run = await readFile(join(mlock, 'run.ts'), 'utf8');
    expect(run.indexOf('await auditLock(')).toBeGreaterThan(run.indexOf('const trained = await trainModel('));
  });

  it('resumes a row in progress only when nothing about its training changed, else starts it from an empty folder', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'report-claim-')), 'row');
    expect(await claimRowFolder(dir, id)).toBe(false);
    await writeFile(join(dir, 'checkpoint.safetensors'), 'epoch 3');
    expect(await claimRowFolder(dir, id)).toBe(true);
    expect(await claimRowFolder(dir, { ...id, code: { ...id.code, audit: 'audit-b' } })).toBe(true);
    expect(await readdir(dir)).toContain('checkpoint.safetensors');
    expect(await claimRowFolder(dir, { ...id, code: { ...id.code, training: 'train-b' } })).toBe(false);
    expect(await readdir(dir)).toEqual(['started.json']);
  });

  it("keeps a row's seconds across sessions, and forgets them when the row starts over", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'report-elapsed-')), 'row');
    await claimRowFolder(dir, id);
    expect(await elapsedRowSeconds(dir)).toBe(0);
    recordRowSeconds(dir, 123.5);
    expect(await claimRowFolder(dir, id)).toBe(true);
    expect(await elapsedRowSeconds(dir)).toBe(123.5);
    await writeFile(join(dir, 'elapsed.json'), '{"seconds": "soon"}');
    expect(await elapsedRowSeconds(dir)).toBe(0);
    recordRowSeconds(dir, 7);
    await claimRowFolder(dir, { ...id, code: { ...id.code, training: 'train-b' } });
    expect(await elapsedRowSeconds(dir)).toBe(0);
  });
});

describe('report plans', () => {
  it('has every dataset x (baseline + 3 strategies) x its seeds, with the budget and the overrides', () => {
    const cpu = reportPlan('cpu');
    expect(cpu.map((p) => p.dataset)).toEqual(['mnist', 'fashion-mnist', 'cifar10', 'gtsrb']);
    expect(planRows(cpu)).toHaveLength(4 * (2 * CPU_BUDGET.mlpSeeds + 2 * CPU_BUDGET.cnnSeeds));
    expect(cpu.find((p) => p.dataset === 'cifar10')!.dataFile).toBe('cifar10-jpeg.tar.gz');
    expect(cpu.filter((p) => p.whiteBoxSteps !== null).map((p) => p.dataset)).toEqual(['mnist', 'cifar10']);
    const wide = reportPlan('cpu', { width: 32, cnnSeeds: 2 });
    expect(wide.map((p) => [p.width, p.seeds])).toEqual([
      [null, 3],
      [null, 3],
      [32, 2],
      [32, 2],
    ]);
    expect(
      reportPlan('paper')
        .filter((p) => p.width !== null)
        .map((p) => p.width),
    ).toEqual([128, 128]);
    const quick = reportPlan('quick');
    expect(quick.every((p) => p.epochs === 1 && p.seeds === 1 && p.trainSubset !== undefined)).toBe(true);
    expect(quick.map((p) => p.width)).toEqual(cpu.map((p) => p.width));
  });
});

describe('mean ± sd over seeds', () => {
  it('uses the sample standard deviation and says when there is one seed', () => {
    const s = stat([0.9, 0.92, 0.94]);
    expect(s.mean).toBeCloseTo(0.92, 12);
    expect(s.sd).toBeCloseTo(0.02, 12); // sqrt((0.02^2 + 0 + 0.02^2) / 2)
    expect(formatStat(s)).toBe('92.0 ± 2.0%');
    expect(stat([0.5]).sd).toBeNull();
    expect(formatStat(stat([0.5]))).toBe('50.0%');
    expect(formatStat(stat([]))).toBe('n/a');
  });
});

// A row as the report keeps it, with an audit whose groups carry the given figures.
function group(
  label: string,
  family: ForgeryGroup['family'],
  count: number,
  mean: number,
  worst: number,
  bounded = true,
  parameter?: number,
): ForgeryGroup {
  return { label, family, parameter, count, mean, worst, above20: worst > 0.2 ? 1 : 0, above50: 0, bounded };
}
function auditOf(o: {
  authorized: number;
  unauthorized: number;
  twoCells: [number, number];
  keysWorst: number;
  log2: number;
}): AuditReport {
  return {
    authorizedAccuracy: o.authorized,
    unauthorizedAccuracy: o.unauthorized,
    testImages: 1000,
    samplesPerForgery: 200,
    groups: [
      group('cells changed: 1', 'cells', 64, 0.5, 0.9, false, 1),
      group('cells changed: 2', 'cells', 100, o.twoCells[0], o.twoCells[1], true, 2),
      group('shifted 1 px', 'shift', 300, 0.1, 0.12),
      group('random other keys', 'random-key', 1000, 0.1, o.keysWorst),
    ],
    boundedMean: 0,
    boundedWorst: 0,
    guesses: { log2Guesses: o.log2, log2TokenSpace: 72.5, firstSafeDistance: 3, localityHolds: true, explanation: [] },
    seconds: 10,
  };
}
function row(dataset: string, strategy: string, seed: number, accuracy: number, audit?: AuditReport): RowResult {
  const run = {
    dataset,
    strategy,
    seed,
    testAccuracy: audit ? null : accuracy,
    audit,
    adapter: 'llvmpipe',
    epochs: 5,
    trainSamples: 54000,
    seconds: 60,
  } as unknown as RunReport;
  return { run, whiteBox: null, whiteBoxSeconds: 0, imagesPerSecond: 1000, trainSeconds: 50 };
}

describe('summaries and targets', () => {
  const plan: DatasetPlan[] = [{ ...reportPlan('cpu')[0]!, epochs: 5, seeds: 3 }];
  const good = (seed: number, authorized: number) =>
    auditOf({ authorized, unauthorized: 0.1, twoCells: [0.05, 0.1], keysWorst: 0.15, log2: 60 + seed });
  const rows = new Map<string, RowResult>([
    ['mnist/baseline/seed-0', row('mnist', 'none', 0, 0.96)],
    ['mnist/baseline/seed-1', row('mnist', 'none', 1, 0.97)],
    ['mnist/baseline/seed-2', row('mnist', 'none', 2, 0.98)],
    ['mnist/uniform/seed-0', row('mnist', 'uniform', 0, 0, good(0, 0.965))],
    ['mnist/uniform/seed-1', row('mnist', 'uniform', 1, 0, good(1, 0.975))],
    // One bad seed: a near miss at 35% and a random key at 25%, and no guess estimate (NaN, null in JSON).
    [
      'mnist/random-label/seed-0',
      row(
        'mnist',
        'random-label',
        0,
        0,
        auditOf({ authorized: 0.94, unauthorized: 0.13, twoCells: [0.2, 0.35], keysWorst: 0.25, log2: NaN }),
      ),
    ],
  ]);
  const stored = new Map(JSON.parse(JSON.stringify([...rows])) as [string, RowResult][]);
  const s = summarize(plan, stored);

  it('aggregates each strategy over its finished seeds: mean ± sd, worst of any seed, fewest guesses', () => {
    expect(s.baselines[0]!.accuracy.mean).toBeCloseTo(0.97, 12);
    expect(s.baselines[0]!.accuracy.sd).toBeCloseTo(0.01, 12);
    const u = s.strategies.find((x) => x.strategy === 'uniform')!;
    expect(u.seeds).toEqual([0, 1]);
    expect(u.authorized.mean).toBeCloseTo(0.97, 12);
    // Near misses: the bounded groups but the random keys, weighted by count: (100 * 0.05 + 300 * 0.1) / 400.
    expect(u.nearMissMean.mean).toBeCloseTo(0.0875, 12);
    expect(u.nearMissWorst).toBeCloseTo(0.12, 12);
    expect(u.log2Guesses).toBe(60);
    expect(u.curve.map((c) => [c.distance, c.mean.mean])).toEqual([
      [1, 0.5],
      [2, 0.05],
    ]);
    expect(s.strategies.find((x) => x.strategy === 'fixed-target')).toBeUndefined();
    expect(u.climb).toBeNull();
  });

  it("takes the probability climb's worst case over seeds: best blind end, widest basin, fewest queries", () => {
    const climbed = (best: number, radius: number | null, log2Queries: number): AuditReport => ({
      ...good(0, 0.97),
      queryClimb: {
        blind: { best },
        radius,
        cost: { log2Queries },
      } as unknown as AuditReport['queryClimb'],
    });
    const seeds = new Map([
      ['mnist/uniform/seed-0', row('mnist', 'uniform', 0, 0, climbed(0.1, 2, 61.5))],
      ['mnist/uniform/seed-1', row('mnist', 'uniform', 1, 0, climbed(0.12, null, 70))],
      ['mnist/uniform/seed-2', row('mnist', 'uniform', 2, 0, climbed(0.11, 4, 58.25))],
    ]);
    const u = summarize(plan, seeds).strategies[0]!;
    expect(u.climb).toEqual({ blindBest: 0.12, radius: 4, log2Queries: 58.25 });
    const md = renderReport(page({ summary: summarize(plan, seeds) }));
    expect(md).toContain('| 12.0% / 4 cells / 2^58.3 |');
  });

  it('says which targets a summary misses, with the figures', () => {
    const base = s.baselines[0]!;
    expect(baselineMisses(base)).toEqual([]);
    expect(
      strategyMisses(
        s.strategies.find((x) => x.strategy === 'uniform')!,
        base,
      ),
    ).toEqual([]);
    const bad = strategyMisses(
      s.strategies.find((x) => x.strategy === 'random-label')!,
      base,
    );
    expect(bad).toEqual([
      'authorized 3.0 pt below the baseline (target: within 1.0 pt)',
      'unauthorized 13.0% > 11.0%',
      // (100 * 0.2 + 300 * 0.1) / 400
      'near-miss mean 12.5% > 12%',
      'near-miss worst 35.0% > 20%',
      'random keys above 20%: 1 of 1000 (worst 25.0%)',
      'no guess estimate (locality failed)',
    ]);
    expect(baselineMisses({ ...base, dataset: 'cifar10', accuracy: stat([0.75]) })).toEqual(['baseline 75.0% < 80%']);
  });

  it('holds unauthorized accuracy to the target in every seed: a mean under it does not hide a seed over it', () => {
    const clean = (seed: number, unauthorized: number) =>
      row('mnist', 'uniform', seed, 0, auditOf({ authorized: 0.97, unauthorized, twoCells: [0.1, 0.1], keysWorst: 0.1, log2: 60 }));
    const seeds = new Map([
      ['mnist/baseline/seed-0', row('mnist', 'none', 0, 0.97)],
      ['mnist/uniform/seed-0', clean(0, 0.102)],
      ['mnist/uniform/seed-1', clean(1, 0.114)],
      ['mnist/uniform/seed-2', clean(2, 0.114)],
    ]);
    const summary = summarize(plan, seeds);
    const u = summary.strategies[0]!;
    expect(u.unauthorized.mean).toBeCloseTo(0.11, 12);
    expect(u.unauthorizedWorst).toBe(0.114);
    expect(strategyMisses(u, summary.baselines[0])).toEqual(['unauthorized 11.4% (worst seed) > 11.0%']);
    expect(renderReport(page({ summary }))).toContain('| 11.0 ± 0.7% (worst 11.4%) |');
  });

  const page = (over: Partial<ReportPage> = {}): ReportPage => ({
    scale: 'cpu',
    command: 'npm run report',
    date: '2026-12-01T00:00:00Z',
    code: { hash: 'abcdef0123456789', training: '0123abcd0123abcd', audit: '4567cdef4567cdef', files: 120, webgpu: '0.6.2' },
    commit: '0123456789abcdef',
    uncommittedChanges: false,
    plan,
    summary: s,
    totalRows: 12,
    pending: ['mnist/fixed-target/seed-0'],
    speeds: null,
    estimate: [],
    paperPlan: reportPlan('paper'),
    figures: { accuracy: 'a.svg', nearMiss: 'n.svg' },
    ...over,
  });

  it('renders every row with its width, data, epochs, adapter and time, misses in bold, pending rows named', () => {
    const md = renderReport(page());
    expect(md).toContain('**Status: 11 of 12 rows finished.** Not yet run: mnist/fixed-target/seed-0.');
    expect(md).toMatch(/\| MNIST \| baseline \(unlocked\) \| MLP 784-256-256-256-10 \| 54000 \| 5 \| 3 \| 97\.0 ± 1\.0% \|/);
    expect(md).toMatch(
      /\| MNIST \| uniform \| MLP 784-256-256-256-10 \| 54000 \| 5 \| 2 \| 97\.0 ± 1\.0% \| 97\.0 ± 0\.7% \| 10\.0 ± 0\.0% \(worst 10\.0%\) \| llvmpipe \| 2\.0 min \| met \|/,
    );
    expect(md).toContain('**miss**: authorized 3.0 pt below the baseline');
    expect(md).toContain('**miss**: near-miss mean 12.5% > 12%; near-miss worst 35.0% > 20%');
    expect(md).toContain('MNIST, all 60,000 training images');
    expect(md).toContain('## Paper scale (GPU): planned, not yet run');
    expect(md).toContain('![Near-miss curve](n.svg)');
    expect(md).toContain('No measured speeds yet');
  });

  it('states the estimate against the 6-hour budget', () => {
    const speeds: MeasuredSpeeds = {
      date: '2026-12-01T00:00:00Z',
      adapter: 'llvmpipe',
      code: 'x',
      loadAverage: [3, 2, 1],
      datasets: [{ dataset: 'mnist', width: null, trainImagesPerSecond: 1000, scoreImagesPerSecond: 3000, loadSeconds: 5 }],
    };
    const fits = renderReport(page({ speeds, estimate: [{ dataset: 'mnist', rows: 12, seconds: 3 * 3600, scaled: false }] }));
    expect(fits).toContain('Estimated total: **3.0 h** for 12 rows, against the budget of 6 h: fits.');
    expect(fits).toContain('MNIST 1000 training img/s, 3000 scored img/s (report --quick)');
    expect(fits).toContain('Its load average 3.0, 2.0, 1.0 at the start');
    const measured = { ...speeds, datasets: [{ ...speeds.datasets[0]!, fromRows: 4 }] };
    expect(renderReport(page({ speeds: measured, estimate: [] }))).toContain(
      "MNIST 1000 training img/s, 3000 scored img/s (this plan's 4 finished rows)",
    );
    const over = renderReport(page({ speeds, estimate: [{ dataset: 'mnist', rows: 12, seconds: 7 * 3600, scaled: false }] }));
    expect(over).toContain('against the budget of 6 h: **over budget**.');
  });

  it('draws three bars per dataset and strategy and one near-miss line per strategy', () => {
    const bars = accuracyFigureSvg(s);
    expect(bars).toMatch(/^<svg/);
    expect([...bars.matchAll(/<rect [^>]*><title>/g)]).toHaveLength(3 * s.strategies.length);
    expect(bars).toContain('MNIST uniform, authorized (token): 97.0%');
    const curve = nearMissFigureSvg(s);
    expect([...curve.matchAll(/<polyline /g)]).toHaveLength(s.strategies.length + 1); // + the 20% bound
    expect(accuracyFigureSvg({ baselines: [], strategies: [] })).toContain('no locked row has finished yet');
  });
});

describe('time estimate', () => {
  const mnist: DatasetPlan = {
    ...reportPlan('cpu')[0]!,
    epochs: 2,
    lockEpochs: 3,
    seeds: 1,
    audit: { randomKeys: 100, samples: 10, perDistance: 10 },
    whiteBoxSteps: null,
  };
  const speed = { dataset: 'mnist' as const, width: null, trainImagesPerSecond: 1000, scoreImagesPerSecond: 4000, loadSeconds: 7 };

  it('scales the measured speeds by the data, the epochs and the audit', () => {
    // 60,000 images, 6,000 held out: an epoch trains 54,000 (54 s) and validates 6,000 (1.5 s).
    expect(rowSeconds(mnist, 'baseline', speed)).toBeCloseTo(2 * (54 + 1.5), 9);
    // Locked, 3 epochs from the baseline: validation with and without the token (12,000), 64 one-cell variants
    // on 100 images (6,400) and 7 kinds x 16 probes on 100 images (11,200); then the audit: 64 + 8 * 10 + 358
    // + 100 forgeries on 10 images, authorized/unauthorized on 10,000, and at most 7 probability climbs (5 basin
    // distances x 1 start + 2 blind at perDistance 10) of 1 + 12 x 64 queries on 16 images each.
    expect(rowSeconds(mnist, 'uniform', speed)).toBeCloseTo(3 * (54 + 29600 / 4000) + (602 * 10 + 20000 + 7 * 769 * 16) / 4000, 9);
    const [e] = estimatePlan([mnist], { date: '', adapter: '', code: '', loadAverage: [], datasets: [speed] });
    expect(e!.rows).toBe(4);
    expect(e!.seconds).toBeCloseTo(7 + rowSeconds(mnist, 'baseline', speed) + 3 * rowSeconds(mnist, 'uniform', speed), 9);
    expect(estimatePlan([mnist], null)).toEqual([null]);
  });

  it('scales a VGG measured at one width to another by the width ratio squared', () => {
    const cifar: DatasetPlan = { ...reportPlan('cpu')[2]!, width: 16 };
    const at8 = { dataset: 'cifar10' as const, width: 8, trainImagesPerSecond: 400, scoreImagesPerSecond: 1200, loadSeconds: 30 };
    expect(rowSeconds(cifar, 'uniform', at8)).toBeCloseTo(4 * rowSeconds({ ...cifar, width: 8 }, 'uniform', at8), 6);
  });

  it("measures a dataset's speeds on the plan's own finished rows once it has some, the others on the quick report's", () => {
    const cifar = { dataset: 'cifar10' as const, width: 8, trainImagesPerSecond: 400, scoreImagesPerSecond: 1200, loadSeconds: 30 };
    const quick: MeasuredSpeeds = {
      date: 'd',
      adapter: 'a',
      code: 'c',
      loadAverage: [],
      datasets: [{ ...speed, trainImagesPerSecond: 500 }, cifar],
    };
    const plan = [mnist, { ...reportPlan('cpu')[2]!, width: 8 }];
    const audited = auditOf({ authorized: 0.97, unauthorized: 0.1, twoCells: [0.1, 0.1], keysWorst: 0.1, log2: 60 });
    const rows = new Map([
      ['mnist/baseline/seed-0', row('mnist', 'none', 0, 0.98)],
      ['mnist/uniform/seed-0', row('mnist', 'uniform', 0, 0, audited)],
    ]);
    // The probability climbs' queries count as scored images too.
    const climbed = { ...audited, queryClimb: { forwards: 5000 } as AuditReport['queryClimb'] };
    expect(auditForwards(climbed)).toBe(auditForwards(audited) + 5000);
    const merged = withRowSpeeds(quick, plan, rows)!;
    // Both rows trained at 1,000 img/s; the audit scored (64 + 100 + 300 + 1000) x 200 + 2 x 1000 images in 10 s.
    expect(merged.datasets[0]).toEqual({
      ...speed,
      trainImagesPerSecond: 1000,
      scoreImagesPerSecond: (1464 * 200 + 2000) / 10,
      fromRows: 2,
    });
    expect(merged.datasets[1]).toEqual(cifar);
    expect(withRowSpeeds(null, plan, rows)).toBeNull();
  });

  it('finds the most CNN epochs that fit the budget', () => {
    const plan = [mnist, { ...reportPlan('cpu')[2]!, width: 8 }];
    const speeds: MeasuredSpeeds = {
      date: '',
      adapter: '',
      code: '',
      loadAverage: [],
      datasets: [speed, { dataset: 'cifar10', width: 8, trainImagesPerSecond: 400, scoreImagesPerSecond: 1200, loadSeconds: 30 }],
    };
    const hours = 2;
    const e = largestCnnEpochs(plan, speeds, hours)!;
    const secondsAt = (epochs: number) =>
      estimatePlan([mnist, { ...plan[1]!, epochs, lockEpochs: epochs }], speeds).reduce((s, x) => s + x!.seconds, 0);
    expect(e).toBeGreaterThan(0);
    expect(secondsAt(e)).toBeLessThanOrEqual(hours * 3600);
    expect(secondsAt(e + 1)).toBeGreaterThan(hours * 3600);
    expect(largestCnnEpochs(plan, { ...speeds, datasets: [speed] }, hours)).toBeNull();
  });
});

describe('a report row, end to end (MNIST, 400 images, 1 epoch)', () => {
  useEngine();

  it('runs the baseline row, locks its model in a locked row with the audit and white-box attacks, then reuses both', async () => {
    const runs = await mkdtemp(join(tmpdir(), 'report-e2e-'));
    const p: DatasetPlan = {
      ...reportPlan('quick')[0]!,
      trainSubset: 400,
      testSubset: 100,
      audit: { randomKeys: 5, samples: 20, perDistance: 2 },
      whiteBoxSteps: 5,
    };
    const code = { hash: 'all-a', training: 'train-a', audit: 'audit-a', files: 1, webgpu: 'test' };
    const data = new DatasetCache();
    const id = { dataset: 'mnist' as const, kind: 'uniform' as const, seed: 0 };
    await expect(runRow(runs, p, id, code, 'this adapter', data, () => {})).rejects.toThrow(
      /mnist\/uniform\/seed-0 locks mnist\/baseline\/seed-0, which has not finished/,
    );
    const base = await runRow(runs, p, { ...id, kind: 'baseline' }, code, 'this adapter', data, () => {});
    const first = await runRow(runs, p, id, code, 'this adapter', data, () => {});
    expect(first.result.run.config.warmStart).toBe(true);
    expect(first.result.run.baselineAccuracy).toBe(base.result.run.testAccuracy);
    const r = first.result;
    expect(r.run.trainSamples).toBe(360);
    expect(r.run.audit!.groups.find((g) => g.family === 'random-key')!.count).toBe(5);
    expect(r.run.audit!.groups.find((g) => g.label === 'cells changed: 2')!.count).toBe(2);
    expect(r.whiteBox!.triggerSearch.steps).toBe(5);
    expect(r.trainSeconds).toBeGreaterThan(0);
    const again = await runRow(runs, p, id, code, 'this adapter', data, () => {
      throw new Error('a cached row must not run again');
    });
    expect(again.finished).toBe(first.finished);
    expect(again.result.run.authorizedAccuracy).toBe(r.run.authorizedAccuracy);
    // The audit's code changed: the trained model is kept, and its audit and attacks run again as run() ran them.
    const lines: string[] = [];
    const audited = await runRow(runs, p, id, { ...code, hash: 'all-b', audit: 'audit-b' }, 'this adapter', data, (s) => {
      if (/epoch/.test(s)) throw new Error(`a row whose training code is unchanged must not train again: ${s}`);
      lines.push(s);
    });
    expect(lines[0]).toMatch(/its audit changed, so it is audited again/);
    expect(audited.code).toEqual({ training: 'train-a', audit: 'audit-b' });
    const withoutTime = (a: AuditReport) => ({ ...a, seconds: 0, queryClimb: { ...a.queryClimb!, seconds: 0 } });
    expect(withoutTime(audited.result.run.audit!)).toEqual(withoutTime(r.run.audit!));
    expect(audited.result.run.forgedMaxAccuracy).toBe(r.run.forgedMaxAccuracy);
    expect(audited.result.whiteBox!.fineTune.cleanAccuracy).toBe(r.whiteBox!.fineTune.cleanAccuracy);
    expect(audited.result.whiteBox!.triggerSearch.recoveredAccuracy).toBe(r.whiteBox!.triggerSearch.recoveredAccuracy);
    expect(audited.result.trainSeconds).toBe(r.trainSeconds);
  }, 300_000);
});
