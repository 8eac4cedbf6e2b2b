/**
 * One training run, locked (M-LOCK) or plain, from dataset to report: data and a validation split carved
 * from the training set, the paper's recipe, per-epoch plans (tokens, decoys, targets), model selection on
 * validation, atomic checkpoints every epoch (resumable), test evaluation, an optional unlocked baseline,
 * and a run folder with the model, a JSON report, a per-epoch log and a plot.
 */
import { join } from 'node:path';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { adapterLabel, initEngine, Rng, runtime } from '../engine/node.js';
import {
  BatchLoader,
  type Normalization,
  meanStd,
  splitValidation,
  subset,
  type ImageDataset,
  loadDataset,
} from '../engine/data/node/index.js';
import {
  writeFileAtomic,
  decodeModelInto,
  decodeTrainingCheckpoint,
  encodeModel,
  encodeTrainingCheckpoint,
} from '../engine/io/node/index.js';
import { buildModel, type ModelName, type Module } from '../engine/nn/index.js';
import { Adam, AdamW, multiStepLr, SGD, type Optimizer } from '../engine/optim/index.js';
import { evaluate, trainEpoch } from '../engine/train/index.js';
import { auditLock, type AuditReport } from './audit.js';
import { cellTolerance } from './hard-cells.js';
import {
  hardestKind,
  kindPressure,
  minedShares,
  probeKinds,
  unauthorizedSplit,
  type KindProbe,
  type UnauthorizedKind,
} from './hard-kinds.js';
import { DECOY_MIX, placeBackground, type NearMissKind } from './near-miss.js';
import { fixedPosition } from './tokens.js';
import { authorizedAccuracy, unauthorizedAccuracy, type EvalSetup } from './evaluate.js';
import { tokenGeometry } from './keyed.js';
import { LockPlan, type LockSettings } from './lock-plan.js';
import { lockedEpochScore } from './model-selection.js';
import { lineChartSvg, type Series } from './plot.js';
import { EpochBar } from './progress.js';
import { recipeFor, type Recipe } from './recipes.js';
import { strategyInfo, type StrategyConfig } from './strategies.js';
import { resolveToken, type TokenSpec } from './token-spec.js';
import { ModelSealer, plainModelBytes, sealModel, type KdfOptions } from './sealed-model.js';

/**
 * Share of token-free training samples that carry a near-miss decoy (chosen by measurement on the MLP,
 * docs/threat-model.md: the clean rest still teaches "no token, no answer", the decoys teach the boundary).
 */
export const DEFAULT_DECOY_RATIO = 0.9;

/** Training images whose per-pixel median at the token's place is what shows through an unpainted cell. */
const BACKGROUND_IMAGES = 1000;

export interface RunOptions {
  dataset: string;
  dataPath?: string;
  /**
   * The dataset's full train and test splits when the caller already holds them (the report loads each
   * dataset once for all its rows); subsets and the validation split are still drawn here, from the seed.
   */
  loaded?: { train: ImageDataset; test: ImageDataset };
  model?: ModelName;
  width?: number;
  /** null: plain (unlocked) training. */
  strategy: StrategyConfig | null;
  token?: TokenSpec;
  epochs?: number;
  /** Epochs of the locked training (default `epochs`); the baseline keeps `epochs`. */
  lockEpochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: Recipe['optimizer'];
  seed?: number;
  poisonRatio?: number;
  decoyRatio?: number;
  trainSubset?: number;
  testSubset?: number;
  valFraction?: number;
  /** Random other keys the audit tries (default 1000). */
  forgedKeys?: number;
  /** Test images per forged token in the audit (default 500). */
  forgedSamples?: number;
  /** The mix of near-miss kinds decoy training draws from (default DECOY_MIX). */
  decoyMix?: Readonly<Record<NearMissKind, number>>;
  /** Sampled near-miss variants per distance in the audit (default 200). */
  auditPerDistance?: number;
  /** Also train an unlocked model the same way and report its accuracy. */
  baseline?: boolean;
  /**
   * Lock the baseline instead of a fresh network: the unlocked model is trained first and locked training
   * starts from its weights (what an owner locking an existing model does). Needs `baseline`.
   */
  warmStart?: boolean;
  /**
   * Lock this already trained unlocked model instead of a fresh network (a warm start without training the
   * baseline again: the report's locked rows start from their baseline row). Excludes `baseline`.
   */
  startFrom?: TrainedBaseline;
  out: string;
  /** Stop after the epoch that passes this many minutes of training (the report says so). */
  maxMinutes?: number;
  resume?: boolean;
  /** Called once the data has loaded and the run folder exists, before anything is written into it. */
  onFolderReady?: () => Promise<void>;
  /** Seconds spent by earlier sessions of this run (resumes); the report's `seconds` adds them. */
  priorSeconds?: number;
  /** Where the run came from (commit, date, command line), copied into the report. */
  provenance?: Record<string, unknown>;
  /** PBKDF2 cost of the sealed files (tests only lower it; the CLI never passes this). */
  kdf?: KdfOptions;
  log?: (line: string) => void;
  progress?: boolean;
}

/** An unlocked model as a warm start needs it: its weights and the accuracies it is measured against. */
export interface TrainedBaseline {
  /** Plain safetensors bytes. */
  weights: Uint8Array;
  /** Validation accuracy of its selected epoch (model selection keeps the locked model near it). */
  validationAccuracy: number;
  testAccuracy: number;
}

export interface EpochLog {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Validation accuracy: authorized (token) for locked runs, plain accuracy otherwise. */
  valAccuracy: number;
  /** Validation accuracy without the token (locked runs). */
  valUnauthorizedAccuracy?: number;
  /** Validation accuracy with one cell of the token changed, mean over cells (locked runs; hard-cell mining). */
  valOneCellAccuracy?: number;
  /**
   * Validation accuracy of the hardest fresh forgeries of each kind and of clean inputs (forgery-kind mining,
   * locked runs with decoys), and the share of unauthorized samples the next epoch gives each kind.
   */
  valForgeries?: KindProbe;
  nextShares?: Partial<Record<UnauthorizedKind, number>>;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface RunReport {
  dataset: string;
  model: string;
  strategy: string;
  authorizedAccuracy: number | null;
  unauthorizedAccuracy: number | null;
  baselineAccuracy: number | null;
  forgedAccuracy: number | null;
  forgedMaxAccuracy: number | null;
  /** Test accuracy of a plain run. */
  testAccuracy: number | null;
  /** The lock's audit (near misses, shifts, brightness, covers, look-alikes, random keys, guesses). */
  audit?: AuditReport;
  adapter: string;
  epochs: number;
  bestEpoch: number;
  trainSamples: number;
  testSamples: number;
  /** Wall-clock seconds of the whole run, summed over every session (resumes included). */
  seconds: number;
  /** Seconds of the session that finished the run. */
  sessionSeconds: number;
  config: Record<string, unknown>;
  provenance: Record<string, unknown>;
}

interface Data {
  train: ImageDataset;
  validation: ImageDataset;
  test: ImageDataset;
  normalization: Normalization;
}

export async function loadRunData(
  o: Pick<RunOptions, 'dataset' | 'dataPath' | 'loaded' | 'trainSubset' | 'testSubset' | 'valFraction' | 'seed'>,
): Promise<Data> {
  let full = o.loaded?.train ?? (await loadDataset(o.dataset, 'train', { path: o.dataPath }));
  let test = o.loaded?.test ?? (await loadDataset(o.dataset, 'test', { path: o.dataPath }));
  if (o.trainSubset) full = sampleSubset(full, o.trainSubset, o.seed ?? 0);
  if (o.testSubset) test = sampleSubset(test, o.testSubset, (o.seed ?? 0) + 1);
  const { train, validation } = splitValidation(full, o.valFraction ?? 0.1, o.seed ?? 0);
  return { train, validation, test, normalization: meanStd(train) };
}

/**
 * A seeded random subset in the original order. Several loaders return images class by class (GTSRB, the
 * CIFAR-10 JPEG copy), where the first N would miss whole classes.
 */
export function sampleSubset(ds: ImageDataset, n: number, seed: number): ImageDataset {
  if (n >= ds.n) return ds;
  const picked = new Rng(seed + 12345).permutation(ds.n).subarray(0, n).sort();
  return subset(ds, picked, `${ds.name}[${n} sampled]`);
}

function makeOptimizer(model: Module, recipe: Recipe): Optimizer {
  const params = model.parameters();
  if (recipe.optimizer === 'sgd') return new SGD(params, { lr: recipe.lr, momentum: recipe.momentum, weightDecay: recipe.weightDecay });
  if (recipe.optimizer === 'adamw') return new AdamW(params, { lr: recipe.lr, weightDecay: recipe.weightDecay || 0.01 });
  return new Adam(params, { lr: recipe.lr, weightDecay: recipe.weightDecay });
}

/** The run's per-epoch generator: a pure function of (seed, epoch), so resuming at an epoch redraws the same. */
function epochRng(seed: number, epoch: number): Rng {
  return new Rng((seed * 1_000_003 + epoch * 7919 + 1) >>> 0);
}

/** The generator of the forgery probes after an epoch: its own stream, so probing never shifts training's. */
function probeRng(seed: number, epoch: number): Rng {
  return new Rng((seed * 1_000_003 + epoch * 7919 + 2) >>> 0);
}

/**
 * What the lock learns from after an epoch (hard-cells.ts, hard-kinds.ts): the cells and the kinds of forgery
 * the network still falls for set the next epoch's decoys. A pure function of the model and (seed, epoch), so
 * a resumed run sets them as the uninterrupted run did.
 */
async function mineDecoys(model: Module, data: Data, settings: LockSettings, history: readonly EpochLog[], probe: boolean, seed: number) {
  const cells = await cellTolerance(model, data.validation, settings, data.normalization);
  settings.cellWeights = cells.weights;
  if (settings.decoyRatio === 0) return { cells, kinds: undefined };
  const kinds = probe ? await probeKinds(model, data.validation, settings, data.normalization, probeRng(seed, history.length)) : undefined;
  const probes = [...history.flatMap((h) => (h.valForgeries ? [h.valForgeries] : [])), ...(kinds ? [kinds] : [])];
  settings.shares = minedShares({ decoyRatio: settings.decoyRatio, mix: settings.decoyMix ?? DECOY_MIX }, kindPressure(probes));
  return { cells, kinds };
}

/** ", hardest forgeries 31.0% (cover)" for the epoch line: the kind whose hardest probes answer best. */
function hardestForgery(forgeries: EpochLog['valForgeries']): string {
  const hardest = forgeries && hardestKind(forgeries);
  return hardest ? `, hardest forgeries ${(hardest.accuracy * 100).toFixed(1)}% (${hardest.kind})` : '';
}

export interface TrainedModel {
  model: Module;
  history: EpochLog[];
  bestEpoch: number;
  seconds: number;
  /** Set when the time budget ended training before the planned epochs. */
  stoppedAtEpoch?: number;
}

/** Train (locked when `settings` is given) with model selection on the validation split. */
export async function trainModel(
  o: RunOptions,
  data: Data,
  recipe: Recipe,
  settings: LockSettings | null,
  tag: string,
  checkpointPath: string | null,
  /** Plain safetensors weights to start from (a warm start); a resumed checkpoint takes precedence. */
  init: Uint8Array | null = null,
  /** The baseline's validation accuracy, when it was trained first (model-selection.ts). */
  baselineAccuracy?: number,
): Promise<TrainedModel> {
  const seed = o.seed ?? 0;
  const { train, validation } = data;
  const C = train.numClasses;
  const model = buildModel(recipe.model, {
    inputShape: [train.c, train.h, train.w],
    numClasses: C,
    seed,
    width: recipe.width,
    dropout: recipe.dropout,
  });
  if (init) decodeModelInto(model, init, `${tag} starting weights`);
  const optimizer = makeOptimizer(model, recipe);
  // Fractions of the run become epoch milestones; short runs merge them rather than decaying twice at once.
  const milestones = [...new Set(recipe.milestones.map((f) => Math.round(f * recipe.epochs)))].filter((m) => m > 0 && m < recipe.epochs);
  const schedule = multiStepLr(recipe.lr, milestones, 0.1);
  const history: EpochLog[] = [];
  let startEpoch = 0;
  let best = { score: -Infinity, epoch: -1, weights: null as Uint8Array | null };
  const log = o.log ?? (() => {});

  // Checkpoints hold the weights too: a keyed locked run seals them like its model file (one salt per file).
  const passphrase = sealingPassphrase(o, settings);
  const bestPath = `${checkpointPath}.best`;
  const sealers = passphrase ? { checkpoint: new ModelSealer(passphrase, o.kdf), best: new ModelSealer(passphrase, o.kdf) } : null;
  const readWeights = async (path: string) => (await plainModelBytes(await readFile(path), passphrase, { ...o.kdf, source: path })).plain;

  if (o.resume && checkpointPath && (await exists(checkpointPath))) {
    const restored = decodeTrainingCheckpoint(model, optimizer, await readWeights(checkpointPath), checkpointPath);
    startEpoch = restored.epoch;
    const extra = restored.extra as { history: EpochLog[]; bestScore: number; bestEpoch: number } | undefined;
    history.push(...(extra?.history ?? []));
    if (extra && (await exists(bestPath))) best = { score: extra.bestScore, epoch: extra.bestEpoch, weights: await readWeights(bestPath) };
    log(`${tag}: resumed from ${checkpointPath} at epoch ${startEpoch + 1}`);
    // The mined decoys are a function of the model, so a resumed run draws the decoys it would have drawn.
    if (settings && startEpoch > 0) await mineDecoys(model, data, settings, history, false, seed);
  }

  const bar = new EpochBar(tag, o.progress ?? Boolean(process.stdout.isTTY));
  const start = performance.now();
  let stoppedAtEpoch: number | undefined;
  for (let epoch = startEpoch; epoch < recipe.epochs; epoch++) {
    const rng = epochRng(seed, epoch);
    const plan = settings ? LockPlan.forEpoch(settings, train.labels, C, train.h, train.w, rng) : null;
    const loader = new BatchLoader(train, {
      batchSize: recipe.batchSize,
      shuffle: true,
      augment: recipe.augment,
      normalization: data.normalization,
      patches: plan ?? undefined,
    });
    bar.begin(epoch, recipe.epochs, loader.batchesPerEpoch());
    let result;
    try {
      result = await trainEpoch({
        model,
        optimizer,
        loader,
        epoch,
        rng,
        schedule,
        targets: plan ? (b) => plan.targets(b) : undefined,
        onProgress: (p) => bar.update(p),
      });
    } finally {
      bar.end();
      loader.dispose();
    }
    let valAccuracy: number;
    let valUnauthorizedAccuracy: number | undefined;
    let valOneCellAccuracy: number | undefined;
    let valForgeries: EpochLog['valForgeries'];
    if (settings) {
      const setup: EvalSetup = { model, dataset: validation, settings, normalization: data.normalization, seed };
      valAccuracy = await authorizedAccuracy(setup);
      valUnauthorizedAccuracy = await unauthorizedAccuracy(setup);
      // The next epoch drills the cells and the kinds of forgery the network still falls for.
      const mined = await mineDecoys(model, data, settings, history, true, seed);
      valOneCellAccuracy = mined.cells.accuracy.reduce((a, b) => a + b, 0) / mined.cells.accuracy.length;
      valForgeries = mined.kinds;
    } else {
      const vl = new BatchLoader(validation, { batchSize: 256, normalization: data.normalization });
      valAccuracy = (await evaluate(model, vl)).accuracy;
      vl.dispose();
    }
    const entry: EpochLog = {
      epoch: epoch + 1,
      trainLoss: result.loss,
      trainAccuracy: result.accuracy,
      valAccuracy,
      valUnauthorizedAccuracy,
      valOneCellAccuracy,
      valForgeries,
      nextShares: settings?.shares && unauthorizedSplit(settings.shares),
      lr: optimizer.lr,
      seconds: result.seconds,
      imagesPerSecond: result.samples / result.seconds,
    };
    history.push(entry);
    log(
      `${tag} epoch ${epoch + 1}/${recipe.epochs}: loss ${result.loss.toFixed(4)}, ` +
        (settings
          ? `val authorized ${(valAccuracy * 100).toFixed(2)}%, unauthorized ${(valUnauthorizedAccuracy! * 100).toFixed(2)}%, one cell changed ${(valOneCellAccuracy! * 100).toFixed(2)}%${hardestForgery(valForgeries)}`
          : `val accuracy ${(valAccuracy * 100).toFixed(2)}%`) +
        `, ${entry.imagesPerSecond.toFixed(0)} img/s, ${result.seconds.toFixed(1)} s`,
    );
    const score = settings
      ? lockedEpochScore(
          {
            authorized: valAccuracy,
            unauthorized: valUnauthorizedAccuracy!,
            oneCell: valOneCellAccuracy!,
            forgery: valForgeries && hardestKind(valForgeries)?.accuracy,
          },
          C,
          baselineAccuracy,
        )
      : valAccuracy;
    if (score > best.score) best = { score, epoch: epoch + 1, weights: await encodeModel(model) };
    if (checkpointPath) {
      const bytes = await encodeTrainingCheckpoint(model, optimizer, {
        epoch: epoch + 1,
        batch: 0,
        rng: rng.getState(),
        extra: { history, bestScore: best.score, bestEpoch: best.epoch },
      });
      if (best.epoch === epoch + 1) await writeFileAtomic(bestPath, sealers ? await sealers.best.seal(best.weights!) : best.weights!);
      await writeFileAtomic(checkpointPath, sealers ? await sealers.checkpoint.seal(bytes) : bytes);
    }
    if (o.maxMinutes && (performance.now() - start) / 60000 > o.maxMinutes && epoch + 1 < recipe.epochs) {
      log(`${tag}: time budget of ${o.maxMinutes} min reached after epoch ${epoch + 1}`);
      stoppedAtEpoch = epoch + 1;
      break;
    }
  }
  if (best.weights) decodeModelInto(model, best.weights, `${tag} best weights`);
  optimizer.dispose();
  sealers?.checkpoint.wipe();
  sealers?.best.wipe();
  return { model, history, bestEpoch: best.epoch, seconds: (performance.now() - start) / 1000, stoppedAtEpoch };
}

/** The passphrase a run seals its weights with: the key of a keyed locked run; plain and pattern-locked runs have none. */
function sealingPassphrase(o: RunOptions, settings: LockSettings | null): string | null {
  return settings && o.token?.key ? o.token.key : null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function effectiveRecipe(o: RunOptions): Recipe {
  const r = recipeFor(o.dataset);
  return {
    ...r,
    model: o.model ?? r.model,
    width: o.width ?? r.width,
    epochs: o.epochs ?? r.epochs,
    batchSize: o.batchSize ?? r.batchSize,
    lr: o.lr ?? r.lr,
    optimizer: o.optimizer ?? r.optimizer,
  };
}

/** The complete run; writes the run folder and returns the report. */
export async function run(o: RunOptions): Promise<RunReport> {
  const log = o.log ?? ((line: string) => console.log(line));
  const opts = { ...o, log };
  const start = performance.now();
  await initEngine();
  const adapter = adapterLabel(runtime().info);
  const data = await loadRunData(o);
  // Only now: a run that cannot load its data leaves no folder behind.
  await mkdir(o.out, { recursive: true });
  await o.onFolderReady?.();
  const recipe = effectiveRecipe(o);
  const C = data.train.numClasses;
  log(
    `data: ${data.train.name} ${data.train.n} train / ${data.validation.n} validation / ${data.test.n} test, ${data.train.c}x${data.train.h}x${data.train.w}, ${C} classes`,
  );
  log(
    `model: ${recipe.model}${recipe.model === 'vgg' ? ` (width ${recipe.width})` : ''}, ${recipe.optimizer} lr ${recipe.lr}, batch ${recipe.batchSize}, ${recipe.epochs} epochs${o.lockEpochs !== undefined && o.strategy ? ` (the lock ${o.lockEpochs})` : ''}`,
  );

  let settings: LockSettings | null = null;
  if (o.strategy) {
    const { token, placement, levels } = await resolveToken(o.token ?? { key: null }, data.train.c, data.train.h, data.train.w, data.train);
    const home = placement.mode === 'random' ? null : fixedPosition(placement, token, data.train.h, data.train.w);
    settings = {
      strategy: o.strategy,
      poisonRatio: o.poisonRatio ?? 0.5,
      decoyRatio: o.decoyRatio ?? DEFAULT_DECOY_RATIO,
      decoyMix: o.decoyMix,
      levels,
      token,
      placement,
      background: home
        ? placeBackground(
            data.train.images,
            Math.min(BACKGROUND_IMAGES, data.train.n),
            data.train.c,
            data.train.h,
            data.train.w,
            home,
            token.h,
            token.w,
          )
        : undefined,
    };
    log(
      `lock: strategy ${o.strategy.name} (${strategyInfo(o.strategy.name).description}) poison ratio ${settings.poisonRatio}, decoy ratio ${settings.decoyRatio}, ${token.h}x${token.w} ${o.token?.key ? 'keyed' : 'pattern'} token, ${placement.mode === 'at' ? 'secret key-derived' : placement.mode} placement`,
    );
  }

  if (o.warmStart && !(settings && o.baseline)) throw new Error('a warm start locks the baseline: it needs a locked run with a baseline');
  if (o.startFrom && (!settings || o.baseline))
    throw new Error('startFrom locks a trained baseline: it needs a locked run without a baseline of its own');
  let base: TrainedBaseline | null = o.startFrom ?? null;
  if (settings && o.baseline) {
    log(`baseline: training the same model without the lock${o.warmStart ? '; locked training then starts from it' : ''}`);
    const trainedBase = await trainModel(opts, data, recipe, null, 'baseline', join(o.out, 'baseline-checkpoint.safetensors'));
    const tl = new BatchLoader(data.test, { batchSize: 256, normalization: data.normalization });
    base = {
      weights: o.warmStart ? await encodeModel(trainedBase.model) : new Uint8Array(0),
      validationAccuracy: trainedBase.history[trainedBase.bestEpoch - 1]!.valAccuracy,
      testAccuracy: (await evaluate(trainedBase.model, tl)).accuracy,
    };
    tl.dispose();
    trainedBase.model.dispose();
  } else if (base) {
    log('warm start: locked training starts from the given unlocked model');
  }
  const baselineAccuracy = base?.testAccuracy ?? null;

  const tag = settings ? 'locked' : 'plain';
  const lockRecipe = settings && o.lockEpochs !== undefined ? { ...recipe, epochs: o.lockEpochs } : recipe;
  const trained = await trainModel(
    opts,
    data,
    lockRecipe,
    settings,
    tag,
    join(o.out, 'checkpoint.safetensors'),
    o.warmStart || o.startFrom ? base!.weights : null,
    base?.validationAccuracy,
  );
  // Only the copy this run made: the caller owns what it passed in.
  if (!o.startFrom) base?.weights.fill(0);
  let lockEval: AuditReport | null = null;
  let testAccuracy: number | null = null;
  if (settings) {
    lockEval = await auditLock({
      model: trained.model,
      dataset: data.test,
      settings,
      normalization: data.normalization,
      seed: o.seed ?? 0,
      randomKeys: o.forgedKeys,
      samples: o.forgedSamples,
      perDistance: o.auditPerDistance,
      log,
    });
  } else {
    const tl = new BatchLoader(data.test, { batchSize: 256, normalization: data.normalization });
    testAccuracy = (await evaluate(trained.model, tl)).accuracy;
    tl.dispose();
  }

  const metadata: Record<string, string> = {
    format: 'mlock-webgpu/1',
    model: JSON.stringify({
      name: recipe.model,
      width: recipe.width,
      inputShape: [data.train.c, data.train.h, data.train.w],
      numClasses: C,
      ...(recipe.dropout !== undefined ? { dropout: recipe.dropout } : {}),
    }),
    normalization: JSON.stringify(data.normalization),
    dataset: o.dataset,
  };
  if (settings) {
    // What a user of the model needs to know: a token is required, its geometry. Never the key or pixels.
    // A public pattern's name is no secret, and predict/eval need it to stamp the token.
    const pattern = o.token?.key ? {} : { pattern: settings.token.name };
    metadata.lock = JSON.stringify({
      required: true,
      strategy: settings.strategy.name,
      geometry: tokenGeometry(settings.token, settings.placement, settings.levels),
      keyed: Boolean(o.token?.key),
      ...pattern,
    });
  }
  const plainModel = await encodeModel(trained.model, metadata);
  const passphrase = sealingPassphrase(o, settings);
  if (settings && !passphrase)
    log('model: locked with a public pattern, so there is no secret to encrypt the weights with; model.safetensors is plain');
  await writeFileAtomic(join(o.out, 'model.safetensors'), passphrase ? await sealModel(plainModel, passphrase, o.kdf) : plainModel);

  const report: RunReport = {
    dataset: o.dataset,
    model: recipe.model === 'vgg' ? `vgg(w=${recipe.width})` : recipe.model,
    strategy: settings ? settings.strategy.name : 'none',
    authorizedAccuracy: lockEval?.authorizedAccuracy ?? null,
    unauthorizedAccuracy: lockEval?.unauthorizedAccuracy ?? null,
    baselineAccuracy: baselineAccuracy ?? (settings ? null : testAccuracy),
    forgedAccuracy: lockEval?.boundedMean ?? null,
    forgedMaxAccuracy: lockEval?.boundedWorst ?? null,
    testAccuracy,
    audit: lockEval ?? undefined,
    adapter,
    epochs: trained.stoppedAtEpoch ?? lockRecipe.epochs,
    bestEpoch: trained.bestEpoch,
    trainSamples: data.train.n,
    testSamples: data.test.n,
    seconds: (o.priorSeconds ?? 0) + (performance.now() - start) / 1000,
    sessionSeconds: (performance.now() - start) / 1000,
    config: {
      dataPath: o.dataPath ?? null,
      seed: o.seed ?? 0,
      recipe,
      token: settings
        ? {
            kind: o.token?.key ? 'keyed' : 'pattern',
            name: o.token?.key ? 'keyed (HMAC-SHA256 of the key)' : settings.token.name,
            size: `${settings.token.h}x${settings.token.w}`,
            channels: settings.token.c,
            levels: settings.levels ?? null,
            // A keyed place is secret: only its kind is recorded.
            placement: settings.placement.mode === 'at' ? 'keyed' : settings.placement.mode,
          }
        : null,
      poisonRatio: settings?.poisonRatio ?? null,
      decoyRatio: settings?.decoyRatio ?? null,
      forgedKeys: settings ? (o.forgedKeys ?? 1000) : null,
      // The audit scores each forged token on the first this-many test images.
      forgedSamples: settings ? Math.min(data.test.n, o.forgedSamples ?? 500) : null,
      auditPerDistance: settings ? (o.auditPerDistance ?? 200) : null,
      baseline: Boolean(settings && o.baseline),
      warmStart: Boolean(settings && (o.warmStart || o.startFrom)),
      lockEpochs: settings ? lockRecipe.epochs : null,
      trainSubset: o.trainSubset ?? null,
      testSubset: o.testSubset ?? null,
      valFraction: o.valFraction ?? 0.1,
      maxMinutes: o.maxMinutes ?? null,
    },
    provenance: {
      ...o.provenance,
      adapter,
      // Every random stream of the run follows from the seed: which ones, so a reader can redraw them.
      seeds: {
        model: o.seed ?? 0,
        trainSubset: o.seed ?? 0,
        validationSplit: o.seed ?? 0,
        testSubset: (o.seed ?? 0) + 1,
        epochs: `(seed * 1000003 + epoch * 7919 + 1) >>> 0`,
      },
    },
  };
  await writeFileAtomic(join(o.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(join(o.out, 'history.json'), JSON.stringify(trained.history, null, 2) + '\n');
  await writeFileAtomic(join(o.out, 'curves.svg'), curvesSvg(trained.history, settings !== null, C, baselineAccuracy));
  trained.model.dispose();
  return report;
}

/**
 * The run's curves: accuracies on the left axis (0-1), training loss on its own right axis (it is unbounded),
 * and the unlocked baseline's test accuracy as a flat reference line when there is one.
 */
export function curvesSvg(
  history: readonly EpochLog[],
  locked: boolean,
  numClasses: number,
  baselineAccuracy: number | null = null,
): string {
  const flat = (v: number) => history.map(() => v);
  const loss: Series = {
    name: 'train loss (right axis)',
    values: history.map((h) => h.trainLoss),
    color: '#2ca02c',
    dashed: true,
    axis: 'right',
  };
  const baseline: Series[] =
    baselineAccuracy === null
      ? []
      : [{ name: `baseline test ${(100 * baselineAccuracy).toFixed(1)}%`, values: flat(baselineAccuracy), color: '#9467bd', dashed: true }];
  const series: Series[] = locked
    ? [
        { name: 'authorized (val)', values: history.map((h) => h.valAccuracy), color: '#1f77b4' },
        { name: 'unauthorized (val)', values: history.map((h) => h.valUnauthorizedAccuracy ?? 0), color: '#d62728' },
        { name: 'chance', values: flat(1 / numClasses), color: '#999999', dashed: true },
        ...baseline,
        loss,
      ]
    : [
        { name: 'val accuracy', values: history.map((h) => h.valAccuracy), color: '#1f77b4' },
        { name: 'train accuracy', values: history.map((h) => h.trainAccuracy), color: '#ff7f0e' },
        ...baseline,
        loss,
      ];
  return lineChartSvg(series, {
    title: locked ? 'M-LOCK: accuracy with and without the token' : 'Training curves',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    yMin: 0,
    yMax: 1,
    rightLabel: 'train loss',
  });
}
