/** The CLI's eval, attack, audit, predict, export and report commands (train and demo live in cli.ts). */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { adapterLabel, initEngine, runtime } from '../engine/node.js';
import { loadDataset } from '../engine/data/node/load-dataset.js';
import { decodeImage } from '../engine/data/image-decode.js';
import { fitRgb, interleavedToPlanar } from '../engine/data/image.js';
import { writeFileAtomic } from '../engine/io/node/files.js';
import { decodeModelInto } from '../engine/io/checkpoint.js';
import { buildModel } from '../engine/nn/models.js';
import type { Module } from '../engine/nn/module.js';
import { sampleSubset } from './run.js';
import { fineTuneAttack, pruneAttack, reverseEngineerAttack } from './attacks.js';
import { auditLock, auditMarkdown } from './audit.js';
import { authorizedAccuracy, evaluateLock, type EvalSetup } from './evaluate.js';
import { LockedModel, readModelMetadata } from './runtime.js';
import { tokenForModel } from './token-spec.js';
import { plainModelBytes } from './sealed-model.js';
import { wipe } from './keyed.js';
import type { LockSettings } from './lock-plan.js';

type Values = Record<string, unknown>;

async function modelPath(from: unknown): Promise<string> {
  if (typeof from !== 'string') throw new Error('this command needs --from RUN_FOLDER (or a model.safetensors file)');
  const s = await stat(from).catch(() => null);
  if (!s) throw new Error(`--from: ${from} does not exist`);
  return s.isDirectory() ? join(from, 'model.safetensors') : from;
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(2)}%`;
}

/** A model file's plain bytes: a sealed (encrypted) one is opened with --key, a plain one read as it is. */
async function openModelFile(path: string, key: unknown): Promise<{ plain: Uint8Array; sealed: boolean }> {
  const bytes = new Uint8Array(await readFile(path));
  return plainModelBytes(bytes, key === undefined ? null : String(key), { source: path });
}

/** Load a saved model with its metadata, the test data, and (with a key) the lock settings. */
async function openSaved(values: Values) {
  await initEngine({ quiet: true });
  const path = await modelPath(values.from);
  const { plain: bytes } = await openModelFile(path, values.key);
  const meta = readModelMetadata(bytes, path);
  const model = buildModel(meta.model.name, { inputShape: meta.model.inputShape, numClasses: meta.model.numClasses, width: meta.model.width });
  decodeModelInto(model, bytes, path);
  model.eval();
  const dataset = String(values.dataset);
  let test = await loadDataset(dataset, 'test', { path: values.data as string | undefined });
  if (values['test-subset']) test = sampleSubset(test, Number(values['test-subset']), Number(values.seed ?? 0) + 1);
  let settings: LockSettings | null = null;
  if (meta.lock && values.key !== undefined) {
    const { token, placement, levels } = await tokenForModel(String(values.key), meta.lock.geometry, meta.model.inputShape);
    settings = { strategy: { name: meta.lock.strategy }, poisonRatio: 0.5, decoyRatio: 0, levels, token, placement };
  }
  return { path, bytes, meta, model, test, settings, dataset };
}

async function evalCommand(values: Values): Promise<void> {
  const { path, meta, model, test, settings } = await openSaved(values);
  if (!meta.lock) throw new Error(`${path}: not a locked model; 'eval' measures locks (use 'train --strategy none' reports for plain models)`);
  if (!settings) throw new Error('eval needs --key (the key the model was locked with)');
  const result = await evaluateLock({ model, dataset: test, settings, normalization: meta.normalization, forgedKeys: Number(values['forged-keys'] ?? 10), seed: Number(values.seed ?? 0) });
  const report = { model: path, dataset: String(values.dataset), strategy: meta.lock.strategy, adapter: adapterLabel(runtime().info), ...result };
  console.log(`eval ${path} on ${test.name} (${test.n} images, ${report.adapter})`);
  console.log(`  authorized   ${pct(result.authorizedAccuracy)}`);
  console.log(`  unauthorized ${pct(result.unauthorizedAccuracy)}`);
  console.log(`  forged mean  ${pct(result.forgedAccuracy)}  worst ${pct(result.forgedMaxAccuracy)}`);
  for (const f of result.forged) console.log(`    ${f.kind.padEnd(15)} ${f.name.padEnd(28)} ${pct(f.accuracy)}`);
  if (values.json) await writeFileAtomic(String(values.json), JSON.stringify(report, null, 2) + '\n');
  if (values.markdown) await writeFileAtomic(String(values.markdown), evalMarkdown(report));
}

function evalMarkdown(r: { model: string; dataset: string; strategy: string; adapter: string; authorizedAccuracy: number; unauthorizedAccuracy: number; forgedAccuracy: number; forgedMaxAccuracy: number; forged: { kind: string; name: string; accuracy: number }[] }): string {
  const lines = [
    `# M-LOCK evaluation of ${r.model}`,
    '',
    `Dataset ${r.dataset}, strategy ${r.strategy}, adapter ${r.adapter}.`,
    '',
    '| input | accuracy |',
    '| --- | ---: |',
    `| with the token (authorized) | ${pct(r.authorizedAccuracy)} |`,
    `| without the token (unauthorized) | ${pct(r.unauthorizedAccuracy)} |`,
    `| forged tokens, mean | ${pct(r.forgedAccuracy)} |`,
    `| forged tokens, worst | ${pct(r.forgedMaxAccuracy)} |`,
    '',
    '| forged token | kind | accuracy |',
    '| --- | --- | ---: |',
    ...r.forged.map((f) => `| ${f.name} | ${f.kind} | ${pct(f.accuracy)} |`),
    '',
  ];
  return lines.join('\n');
}

async function auditCommand(values: Values): Promise<void> {
  const { path, meta, model, test, settings } = await openSaved(values);
  if (!meta.lock) throw new Error(`${path}: not a locked model; 'audit' measures locks`);
  if (!settings) throw new Error('audit needs --key (the key the model was locked with)');
  const report = await auditLock({
    model,
    dataset: test,
    settings,
    normalization: meta.normalization,
    samples: values.samples !== undefined ? Number(values.samples) : undefined,
    randomKeys: values['forged-keys'] !== undefined ? Number(values['forged-keys']) : undefined,
    perDistance: values['per-distance'] !== undefined ? Number(values['per-distance']) : undefined,
    seed: Number(values.seed ?? 0),
    log: (l) => console.error(l),
  });
  const md = auditMarkdown(report, `M-LOCK audit of ${path}`);
  console.log(md);
  if (values.json) await writeFileAtomic(String(values.json), JSON.stringify({ model: path, adapter: adapterLabel(runtime().info), ...report }, null, 2) + '\n');
  if (values.markdown) await writeFileAtomic(String(values.markdown), md);
}

async function attackCommand(values: Values): Promise<void> {
  const { path, meta, model, test, settings, dataset } = await openSaved(values);
  let train = await loadDataset(dataset, 'train', { path: values.data as string | undefined });
  if (values['train-subset']) train = sampleSubset(train, Number(values['train-subset']), Number(values.seed ?? 0));
  const setup = (m: Module): EvalSetup => ({ model: m, dataset: test, settings: settings!, normalization: meta.normalization });
  const ctx = { model, train, test, normalization: meta.normalization, seed: Number(values.seed ?? 0), authorized: settings ? (m: Module) => authorizedAccuracy(setup(m)) : undefined };
  console.log(`attacks on ${path} (${adapterLabel(runtime().info)})`);
  const fineTune = await fineTuneAttack(ctx, [1, 5, 10], Number(values.epochs ?? 5));
  for (const r of fineTune) console.log(`  fine-tune ${r.scope.padEnd(11)} ${String(r.budgetPercent).padStart(3)}% clean data (${r.samples} images, ${r.epochs} epochs): clean accuracy ${pct(r.cleanAccuracy)}`);
  const prune = await pruneAttack(ctx);
  for (const r of prune) console.log(`  prune ${(r.sparsity * 100).toFixed(0).padStart(3)}%: clean ${pct(r.cleanAccuracy)}, authorized ${pct(r.authorizedAccuracy)}`);
  const reverse = await reverseEngineerAttack(ctx, { steps: Number(values.steps ?? 200) });
  console.log(`  reverse-engineered trigger (mask L1 ${reverse.maskL1.toFixed(1)} px, ${reverse.steps} steps): accuracy ${pct(reverse.recoveredAccuracy)} (clean ${pct(reverse.cleanAccuracy)})`);
  const report = { model: path, dataset, adapter: adapterLabel(runtime().info), fineTune, prune, reverseEngineer: reverse };
  if (values.json) await writeFileAtomic(String(values.json), JSON.stringify(report, null, 2) + '\n');
}

async function predictCommand(values: Values): Promise<void> {
  await initEngine({ quiet: true });
  const path = await modelPath(values.from);
  const bytes = new Uint8Array(await readFile(path));
  const locked = LockedModel.load(bytes, { idleMs: 0 }, path);
  const [c, h, w] = locked.info.inputShape;
  let images: Uint8Array;
  let names: string[];
  let labels: number[] | null = null;
  if (typeof values.image === 'string') {
    const img = fitRgb(decodeImage(new Uint8Array(await readFile(values.image)), values.image), w, h);
    images = new Uint8Array(c * h * w);
    if (c === 3) interleavedToPlanar(img.data, w, h, 3, images, 0);
    else for (let p = 0; p < h * w; p++) images[p] = Math.round((img.data[3 * p]! + img.data[3 * p + 1]! + img.data[3 * p + 2]!) / 3);
    names = [values.image];
  } else {
    const count = Number(values.count ?? 8);
    const all = await loadDataset(String(values.dataset), 'test', { path: values.data as string | undefined });
    const test = { ...all, n: Math.min(count, all.n), images: all.images.subarray(0, Math.min(count, all.n) * all.c * all.h * all.w), labels: all.labels.subarray(0, Math.min(count, all.n)) };
    images = test.images;
    labels = Array.from(test.labels);
    names = labels.map((_, i) => `${test.name}[${i}]`);
  }
  const n = names.length;
  if (values.key === undefined) throw new Error('predict needs --key: the weights of a locked model stay encrypted without it');
  await locked.unlock(String(values.key));
  // Both answers from the unlocked model: with the token, and what anyone sending the same image gets without it.
  const withKey = await locked.predict(images, n);
  const without = await locked.predict(images, n, { withToken: false });
  locked.dispose();
  console.log(`predict with ${path} (${adapterLabel(runtime().info)})`);
  for (let i = 0; i < n; i++) {
    const truth = labels ? ` true ${labels[i]}` : '';
    console.log(`  ${names[i]}:${truth}  with the token -> ${withKey.classes[i]}  without -> ${without.classes[i]}`);
  }
}

/** The owner's explicit way out of the encryption: write the plain model (weights readable by anyone). */
async function exportCommand(values: Values): Promise<void> {
  if (typeof values.out !== 'string') throw new Error('export needs --out FILE.safetensors (where the unencrypted model goes)');
  const path = await modelPath(values.from);
  const { plain, sealed } = await openModelFile(path, values.key);
  if (!sealed) throw new Error(`${path}: not a sealed model, its weights are already unencrypted; copy the file instead`);
  readModelMetadata(plain, path);
  await writeFileAtomic(values.out, plain);
  wipe(plain);
  console.error(`WARNING: ${values.out} is UNENCRYPTED: anyone with this file can read the weights and fine-tune the lock away. Keep it private; the sealed ${path} is the file to share.`);
}

export async function runCommand(command: string, values: Values): Promise<void> {
  switch (command) {
    case 'eval':
      return evalCommand(values);
    case 'attack':
      return attackCommand(values);
    case 'audit':
      return auditCommand(values);
    case 'predict':
      return predictCommand(values);
    case 'export':
      return exportCommand(values);
    case 'report': {
      const { reportCommand } = await import('./report.js');
      return reportCommand(values);
    }
    default:
      throw new Error(`unknown command '${command}' (expected demo, train, eval, attack, audit, predict, export or report; see --help)`);
  }
}
