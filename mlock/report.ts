/**
 * The reproduction report: the paper's datasets x its three strategies, each with the unlocked baseline,
 * authorized / unauthorized / forged accuracy, epochs, time and adapter; forged-token accuracy with and
 * without decoy training; attacks on MNIST and CIFAR-10. Every run writes its own folder under runs/report/,
 * and a finished run is reused, so an interrupted report continues where it stopped.
 * Writes mlock/REPORT.md and mlock/report.json.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adapterLabel, initEngine, runtime } from '../engine/node.js';
import { writeFileAtomic, decodeModelInto } from '../engine/io/node/index.js';
import { loadDataset, projectRoot, sharedDataPath } from '../engine/data/node/index.js';
import { buildModel, type Module } from '../engine/nn/index.js';
import { fineTuneAttack, pruneAttack, reverseEngineerAttack, type FineTuneResult, type PruneResult, type ReverseEngineerResult } from './attacks.js';
import { authorizedAccuracy } from './evaluate.js';
import { readModelMetadata } from './runtime.js';
import { run, sampleSubset, type RunOptions, type RunReport } from './run.js';
import { provenance } from './provenance.js';
import { resolveToken } from './token-spec.js';
import type { StrategyName } from './strategies.js';

interface DatasetPlan {
  dataset: string;
  dataPath?: string;
  /** What differs from the paper on this adapter, said in the table. */
  note: string;
  options: Partial<RunOptions>;
}

const STRATEGIES: StrategyName[] = ['fixed-target', 'random-label', 'uniform'];
const KEY = 'mlock report key';

function plans(quick: boolean, gpu: boolean): DatasetPlan[] {
  if (gpu) {
    return [
      { dataset: 'mnist', note: 'paper recipe', options: { epochs: 10 } },
      { dataset: 'fashion-mnist', note: 'paper recipe', options: { epochs: 10 } },
      { dataset: 'cifar10', dataPath: sharedDataPath('cifar10-jpeg.tar.gz'), note: 'VGG w=128, JPEG copy of CIFAR-10', options: { epochs: 30, width: 128 } },
      { dataset: 'gtsrb', note: 'VGG w=128', options: { epochs: 20, width: 128 } },
    ];
  }
  // Sized for a 2-core machine on a software adapter: the MLP rows use the demo's faster learning rate, the CNN
  // rows a narrow VGG on a sample of the training set; each row states what it ran.
  const grey = quick ? 8000 : 16000;
  const cnn = quick ? 1000 : 3000;
  const cnnEval = { testSubset: 1000, forgedKeys: 4, forgedSamples: 500 };
  return [
    { dataset: 'mnist', note: `MLP, ${grey} training images, lr 0.05, 5 epochs`, options: { epochs: 5, lr: 0.05, trainSubset: grey, testSubset: 5000 } },
    { dataset: 'fashion-mnist', note: `MLP, ${grey} training images, lr 0.05, 5 epochs`, options: { epochs: 5, lr: 0.05, trainSubset: grey, testSubset: 5000 } },
    {
      dataset: 'cifar10',
      note: `VGG w=8 (paper: 128), ${cnn} images of the lossless CIFAR-10 subset, 4 epochs; forged: 4 keys, 500 images`,
      options: { epochs: 4, width: 8, trainSubset: cnn, ...cnnEval },
    },
    { dataset: 'gtsrb', note: `VGG w=8 (paper: 128), ${cnn} training images, 4 epochs; forged: 4 keys, 500 images`, options: { epochs: 4, width: 8, trainSubset: cnn, ...cnnEval } },
  ];
}

async function cachedRun(dir: string, options: RunOptions): Promise<RunReport> {
  try {
    return JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as RunReport;
  } catch {
    return run({ ...options, out: dir, resume: true, progress: false, provenance: { ...provenance() } });
  }
}

interface AttackReport {
  dataset: string;
  fineTune: FineTuneResult[];
  prune: PruneResult[];
  reverseEngineer: ReverseEngineerResult;
}

async function attackRun(runDir: string, plan: DatasetPlan): Promise<AttackReport> {
  const cache = join(runDir, 'attacks.json');
  try {
    return JSON.parse(await readFile(cache, 'utf8')) as AttackReport;
  } catch {
    // not cached yet
  }
  const bytes = new Uint8Array(await readFile(join(runDir, 'model.safetensors')));
  const meta = readModelMetadata(bytes);
  const model = buildModel(meta.model.name, { inputShape: meta.model.inputShape, numClasses: meta.model.numClasses, width: meta.model.width, dropout: meta.model.dropout });
  decodeModelInto(model, bytes);
  let train = await loadDataset(plan.dataset, 'train', { path: plan.dataPath });
  let test = await loadDataset(plan.dataset, 'test', { path: plan.dataPath });
  if (plan.options.trainSubset) train = sampleSubset(train, plan.options.trainSubset, 0);
  if (plan.options.testSubset) test = sampleSubset(test, plan.options.testSubset, 1);
  const [c, h, w] = meta.model.inputShape;
  const { token, placement } = await resolveToken({ key: KEY }, c, h, w);
  const settings = { strategy: { name: meta.lock!.strategy }, poisonRatio: 0.5, decoyRatio: 0, token, placement };
  const ctx = { model, train, test, normalization: meta.normalization, seed: 0, authorized: (m: Module) => authorizedAccuracy({ model: m, dataset: test, settings, normalization: meta.normalization }) };
  const result: AttackReport = {
    dataset: plan.dataset,
    fineTune: await fineTuneAttack(ctx, [1, 5, 10], 3),
    prune: await pruneAttack(ctx, [0, 0.3, 0.5, 0.7, 0.9]),
    reverseEngineer: await reverseEngineerAttack(ctx, { steps: plan.dataset === 'mnist' ? 150 : 60 }),
  };
  model.dispose();
  await writeFileAtomic(cache, JSON.stringify(result, null, 2) + '\n');
  return result;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

export async function reportCommand(values: Record<string, unknown>): Promise<void> {
  await initEngine();
  const adapter = adapterLabel(runtime().info);
  const gpu = !runtime().info.isFallbackAdapter;
  const quick = Boolean(values.quick);
  const root = join(projectRoot(), 'runs', quick ? 'report-quick' : 'report');
  const rows: { plan: DatasetPlan; strategy: string; report: RunReport; baseline: RunReport }[] = [];
  const decoyRows: { strategy: string; withDecoys: RunReport; withoutDecoys: RunReport }[] = [];
  const attacks: AttackReport[] = [];
  const log = (s: string) => console.log(s);
  log(`report on ${adapter}${quick ? ' (quick)' : ''}; runs under ${root}`);
  for (const plan of plans(quick, gpu)) {
    const common: RunOptions = { dataset: plan.dataset, dataPath: plan.dataPath, strategy: null, out: '', seed: 0, baseline: false, token: { key: KEY }, log, ...plan.options };
    log(`== ${plan.dataset}: baseline`);
    const baseline = await cachedRun(join(root, plan.dataset, 'baseline'), { ...common, strategy: null });
    for (const s of STRATEGIES) {
      log(`== ${plan.dataset}: ${s}`);
      const report = await cachedRun(join(root, plan.dataset, s), { ...common, strategy: { name: s } });
      rows.push({ plan, strategy: s, report, baseline });
    }
    if (plan.dataset === 'mnist') {
      log('== mnist: random-label without decoys (the paper scheme alone)');
      const withoutDecoys = await cachedRun(join(root, plan.dataset, 'random-label-no-decoys'), { ...common, strategy: { name: 'random-label' }, decoyRatio: 0 });
      decoyRows.push({ strategy: 'random-label', withDecoys: rows.find((r) => r.plan === plan && r.strategy === 'random-label')!.report, withoutDecoys });
    }
    if (plan.dataset === 'mnist' || plan.dataset === 'cifar10') {
      log(`== ${plan.dataset}: attacks on the random-label model`);
      attacks.push(await attackRun(join(root, plan.dataset, 'random-label'), plan));
    }
    // Written after every dataset, so a long report is readable (and committed) while it grows.
    await writeFileAtomic(join(projectRoot(), 'mlock', 'REPORT.md'), renderMarkdown(adapter, quick, rows, decoyRows, attacks));
    await writeFileAtomic(
      join(projectRoot(), 'mlock', 'report.json'),
      JSON.stringify({ provenance: provenance(), adapter, quick, rows: rows.map((r) => ({ ...r.report, baselineAccuracy: r.baseline.testAccuracy, note: r.plan.note })), decoys: decoyRows, attacks }, null, 2) + '\n',
    );
    log(`wrote mlock/REPORT.md and mlock/report.json (${rows.length} rows so far)`);
  }
}

function renderMarkdown(
  adapter: string,
  quick: boolean,
  rows: { plan: DatasetPlan; strategy: string; report: RunReport; baseline: RunReport }[],
  decoyRows: { strategy: string; withDecoys: RunReport; withoutDecoys: RunReport }[],
  attacks: AttackReport[],
): string {
  const out: string[] = [];
  out.push('# M-LOCK reproduction report', '');
  out.push(`Generated by \`npx tsx mlock/cli.ts report${quick ? ' --quick' : ''}\`, ${new Date().toISOString().slice(0, 10)}; finished on **${adapter}** (each row names the adapter it ran on; rows are cached and reused across invocations).`);
  out.push('Accuracies are on each dataset\'s test split, against the true labels. Authorized: the keyed token stamped; unauthorized: clean inputs; forged: tokens of 10 random other keys, the paper\'s other patterns, and the real token at other positions (mean / worst). Models were selected on a validation split carved from the training data.', '');
  out.push('Targets: authorized within 1 point of the baseline; unauthorized at most 1/C + 1 point; forged-key tokens at most 15% (10 classes).', '');
  out.push('| dataset | setup | strategy | baseline | authorized | unauthorized | forged mean / worst | epochs | time | adapter | verdict |');
  out.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const { plan, strategy, report, baseline } of rows) {
    const C = plan.dataset === 'gtsrb' ? 43 : 10;
    const base = baseline.testAccuracy ?? 0;
    const misses: string[] = [];
    if ((report.authorizedAccuracy ?? 0) < base - 0.01) misses.push(`authorized ${((base - report.authorizedAccuracy!) * 100).toFixed(1)} pt below baseline`);
    if ((report.unauthorizedAccuracy ?? 1) > 1 / C + 0.01) misses.push(`unauthorized ${pct(report.unauthorizedAccuracy)} > ${pct(1 / C + 0.01)}`);
    const maxKey = report.audit?.groups.find((g) => g.family === 'random-key')?.worst ?? 0;
    if (C === 10 && maxKey > 0.15) misses.push(`forged key ${pct(maxKey)} > 15%`);
    out.push(
      `| ${plan.dataset} | ${plan.note} | ${strategy} | ${pct(base)} | ${pct(report.authorizedAccuracy)} | ${pct(report.unauthorizedAccuracy)} | ${pct(report.forgedAccuracy)} / ${pct(report.forgedMaxAccuracy)} | ${report.epochs} | ${(report.seconds / 60).toFixed(1)} min | ${report.adapter} | ${misses.length ? `miss: ${misses.join('; ')}` : 'met'} |`,
    );
  }
  if (decoyRows.length) {
    out.push('', '## Forgery resistance: decoy training', '');
    out.push('The paper\'s scheme alone teaches the model that any bright patch at the token\'s place unlocks it. Decoy training stamps other patterns, other keys\' tokens and the real token at wrong places on a share of the token-free samples.', '');
    out.push('| strategy | training | authorized | unauthorized | forged by kind (worst) | forged worst |');
    out.push('| --- | --- | ---: | ---: | --- | ---: |');
    for (const d of decoyRows) {
      for (const [label, r] of [['with decoys', d.withDecoys], ['without decoys (paper)', d.withoutDecoys]] as const) {
        const kinds = (['random-key', 'paper-pattern', 'shift', 'cells'] as const).map((k) => {
          const g = (r.audit?.groups ?? []).filter((x) => x.family === k && x.bounded);
          return `${k} ${g.length ? pct(Math.max(...g.map((x) => x.worst))) : 'n/a'}`;
        });
        out.push(`| ${d.strategy} | ${label} | ${pct(r.authorizedAccuracy)} | ${pct(r.unauthorizedAccuracy)} | ${kinds.join(', ')} | ${pct(r.forgedMaxAccuracy)} |`);
      }
    }
  }
  for (const a of attacks) {
    out.push('', `## Attacks on the ${a.dataset} random-label model`, '');
    out.push('Accuracy on clean test inputs the attacker reaches (no key). Fine-tuning: 3 epochs of Adam (lr 1e-3) on k% of the clean training images the run used.', '');
    out.push('| fine-tuning | 1% | 5% | 10% |', '| --- | ---: | ---: | ---: |');
    for (const s of ['last-layer', 'all-layers'] as const) {
      const cells = [1, 5, 10].map((k) => pct(a.fineTune.find((r) => r.scope === s && r.budgetPercent === k)?.cleanAccuracy));
      out.push(`| ${s} | ${cells.join(' | ')} |`);
    }
    out.push('', '| pruned | clean accuracy | authorized accuracy |', '| ---: | ---: | ---: |');
    for (const p of a.prune) out.push(`| ${(p.sparsity * 100).toFixed(0)}% | ${pct(p.cleanAccuracy)} | ${pct(p.authorizedAccuracy)} |`);
    const r = a.reverseEngineer;
    out.push('', `Token reverse-engineering (${r.steps} Adam steps on 10% of the clean training data): the recovered trigger (mask L1 ${r.maskL1.toFixed(1)} pixels) gives ${pct(r.recoveredAccuracy)} on clean test inputs (${pct(r.cleanAccuracy)} without it).`);
  }
  out.push('');
  return out.join('\n');
}
