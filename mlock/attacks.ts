/**
 * Attacks on a locked model by someone who has the weights but not the key:
 * - fine-tuning on k% of clean training data (true labels, no token): the last layer only, then all layers;
 * - global magnitude pruning of the weights, 0 to 90%;
 * - token reverse-engineering in the manner of Neural Cleanse: optimise a mask and a pattern on clean data
 *   so that stamped inputs are classified correctly again, with an L1 penalty keeping the mask small.
 * Each reports the accuracy the attacker recovers on clean (token-free) test inputs.
 */
import {
  abs,
  add,
  argmax,
  equal,
  keep,
  mean,
  mul,
  noGrad,
  Rng,
  scope,
  sigmoid,
  sub,
  sum,
  tensor,
  type Tensor,
  crossEntropy,
} from '../engine/index.js';
import { BatchLoader, type Normalization, subset, type ImageDataset } from '../engine/data/index.js';
import { decodeModelInto, encodeModel } from '../engine/io/index.js';
import { Linear, type Module } from '../engine/nn/index.js';
import { Adam, type Optimizer } from '../engine/optim/index.js';
import { evaluate, trainEpoch } from '../engine/train/index.js';

export interface AttackContext {
  model: Module;
  train: ImageDataset;
  test: ImageDataset;
  normalization: Normalization;
  seed?: number;
  /** Accuracy with the real token, to show what pruning costs the owner too. */
  authorized?: (model: Module) => Promise<number>;
}

export interface FineTuneResult {
  budgetPercent: number;
  scope: 'last-layer' | 'all-layers';
  epochs: number;
  samples: number;
  cleanAccuracy: number;
}

export interface PruneResult {
  sparsity: number;
  cleanAccuracy: number;
  authorizedAccuracy: number | null;
}

export interface ReverseEngineerResult {
  steps: number;
  maskL1: number;
  /** Clean test accuracy with the recovered trigger applied. */
  recoveredAccuracy: number;
  cleanAccuracy: number;
}

async function cleanAccuracy(model: Module, test: ImageDataset, normalization: Normalization): Promise<number> {
  const loader = new BatchLoader(test, { batchSize: 256, normalization });
  try {
    return (await evaluate(model, loader)).accuracy;
  } finally {
    loader.dispose();
  }
}

/** The parameters of the model's last Linear layer. */
function lastLayerParams(model: Module): Tensor[] {
  const linears = model.namedModules().filter(([, m]) => m instanceof Linear);
  const last = linears[linears.length - 1];
  if (!last) throw new Error('fine-tune attack: the model has no Linear layer');
  return last[1].parameters();
}

/** Fine-tune copies of the model on `budgets` percent of clean training data. */
export async function fineTuneAttack(
  ctx: AttackContext,
  budgets: readonly number[] = [1, 5, 10],
  epochs = 5,
  lr = 1e-3,
): Promise<FineTuneResult[]> {
  const original = await encodeModel(ctx.model);
  const results: FineTuneResult[] = [];
  try {
    for (const scopeName of ['last-layer', 'all-layers'] as const) {
      for (const k of budgets) {
        decodeModelInto(ctx.model, original, 'attack restore');
        const rng = new Rng((ctx.seed ?? 0) + k * 101 + (scopeName === 'all-layers' ? 7 : 0));
        const count = Math.max(1, Math.round((k / 100) * ctx.train.n));
        const data = subset(ctx.train, rng.permutation(ctx.train.n).subarray(0, count), `${ctx.train.name}[${k}% clean]`);
        const params = scopeName === 'last-layer' ? lastLayerParams(ctx.model) : ctx.model.parameters();
        const optimizer: Optimizer = new Adam(params, { lr });
        const loader = new BatchLoader(data, { batchSize: 64, shuffle: true, normalization: ctx.normalization });
        for (let e = 0; e < epochs; e++) await trainEpoch({ model: ctx.model, optimizer, loader, epoch: e, rng });
        loader.dispose();
        optimizer.dispose();
        results.push({
          budgetPercent: k,
          scope: scopeName,
          epochs,
          samples: count,
          cleanAccuracy: await cleanAccuracy(ctx.model, ctx.test, ctx.normalization),
        });
      }
    }
  } finally {
    decodeModelInto(ctx.model, original, 'attack restore');
  }
  return results;
}

/** Global magnitude pruning over all weight tensors (not biases or normalisation), at each sparsity. */
export async function pruneAttack(
  ctx: AttackContext,
  sparsities: readonly number[] = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
): Promise<PruneResult[]> {
  const original = await encodeModel(ctx.model);
  const weights = ctx.model.namedParameters().filter(([name, t]) => name.endsWith('weight') && t.rank >= 2);
  const values = await Promise.all(weights.map(async ([, t]) => (await t.data()) as Float32Array));
  const magnitudes = new Float32Array(values.reduce((s, v) => s + v.length, 0));
  let off = 0;
  for (const v of values) {
    for (let i = 0; i < v.length; i++) magnitudes[off + i] = Math.abs(v[i]!);
    off += v.length;
  }
  magnitudes.sort();
  const results: PruneResult[] = [];
  try {
    for (const s of sparsities) {
      decodeModelInto(ctx.model, original, 'attack restore');
      const threshold = s > 0 ? magnitudes[Math.min(magnitudes.length - 1, Math.floor(s * magnitudes.length))]! : -1;
      const state = new Map<string, Tensor>();
      weights.forEach(([name, t], k) => {
        const pruned = values[k]!.map((x) => (Math.abs(x) < threshold ? 0 : x));
        state.set(name, tensor(pruned, t.shape));
      });
      ctx.model.loadStateDict(state, false);
      results.push({
        sparsity: s,
        cleanAccuracy: await cleanAccuracy(ctx.model, ctx.test, ctx.normalization),
        authorizedAccuracy: ctx.authorized ? await ctx.authorized(ctx.model) : null,
      });
    }
  } finally {
    decodeModelInto(ctx.model, original, 'attack restore');
  }
  return results;
}

/**
 * Neural-Cleanse-style trigger search: x' = (1 - m) * x + m * p in pixel space, m = sigmoid(M) per pixel,
 * p = sigmoid(P) per channel and pixel; minimise cross-entropy against the TRUE labels plus lambda * mean(m).
 */
export async function reverseEngineerAttack(
  ctx: AttackContext,
  options: { steps?: number; lambda?: number; lr?: number; budgetPercent?: number } = {},
): Promise<ReverseEngineerResult> {
  const steps = options.steps ?? 200;
  const lambda = options.lambda ?? 0.01;
  const { c, h, w } = ctx.train;
  const rng = new Rng((ctx.seed ?? 0) + 4242);
  const count = Math.max(64, Math.round(((options.budgetPercent ?? 10) / 100) * ctx.train.n));
  const data = subset(ctx.train, rng.permutation(ctx.train.n).subarray(0, Math.min(count, ctx.train.n)));
  const meanT = keep(tensor(Float32Array.from(ctx.normalization.mean), [1, c, 1, 1]));
  const stdT = keep(tensor(Float32Array.from(ctx.normalization.std), [1, c, 1, 1]));
  const invStdT = keep(
    tensor(
      Float32Array.from(ctx.normalization.std, (s) => 1 / s),
      [1, c, 1, 1],
    ),
  );
  const maskLogit = keep(tensor(new Float32Array(h * w).fill(-3), [1, 1, h, w]));
  const patternLogit = keep(
    tensor(
      Float32Array.from({ length: c * h * w }, () => rng.normal() * 0.1),
      [1, c, h, w],
    ),
  );
  maskLogit.requiresGrad = true;
  patternLogit.requiresGrad = true;
  const optimizer = new Adam([maskLogit, patternLogit], { lr: options.lr ?? 0.1 });
  const apply = (x: Tensor) => {
    const m = sigmoid(maskLogit);
    const pixels = add(mul(x, stdT), meanT);
    const mixed = add(mul(sub(1, m), pixels), mul(m, sigmoid(patternLogit)));
    return { normalized: mul(sub(mixed, meanT), invStdT), m };
  };
  const loader = new BatchLoader(data, { batchSize: 64, shuffle: true, normalization: ctx.normalization });
  ctx.model.eval();
  let done = 0;
  let epoch = 0;
  while (done < steps) {
    for (const batch of loader.epoch(new Rng(epoch++))) {
      scope(() => {
        const { normalized, m } = apply(batch.x);
        const loss = add(crossEntropy(ctx.model.forward(normalized), batch.y), mul(mean(abs(m)), lambda));
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
      });
      for (const p of ctx.model.parameters()) {
        p.grad?.dispose();
        p.grad = null;
      }
      if (++done >= steps) break;
    }
  }
  loader.dispose();
  const maskL1 = await scope(() => mean(sigmoid(maskLogit)).item());
  // Recovered accuracy: the clean test set with the trigger applied.
  const testLoader = new BatchLoader(ctx.test, { batchSize: 256, normalization: ctx.normalization });
  let right = 0;
  for (const batch of testLoader.epoch(null)) {
    const correct = scope(() =>
      noGrad(() => {
        const logits = ctx.model.forward(apply(batch.x).normalized);
        return keep(sum(equal(argmax(logits, 1), batch.y)));
      }),
    );
    right += await correct.item();
    correct.dispose();
  }
  testLoader.dispose();
  optimizer.dispose();
  for (const t of [meanT, stdT, invStdT, maskLogit, patternLogit]) t.dispose();
  return {
    steps,
    maskL1: maskL1 * h * w,
    recoveredAccuracy: right / ctx.test.n,
    cleanAccuracy: await cleanAccuracy(ctx.model, ctx.test, ctx.normalization),
  };
}

export interface WhiteBoxResult {
  /** All layers fine-tuned for 5 epochs on 1% of the clean training images. */
  fineTune: FineTuneResult;
  triggerSearch: ReverseEngineerResult;
}

/**
 * The file holder's attacks once the weights are decrypted, as the CLI's `audit` and the report run them:
 * all-layer fine-tuning on 1% of clean data, and the trigger search. What sealing and wiping protect against.
 */
export async function whiteBoxAttacks(ctx: AttackContext, steps = 200): Promise<WhiteBoxResult> {
  const fineTune = (await fineTuneAttack(ctx, [1], 5)).find((r) => r.scope === 'all-layers')!;
  const triggerSearch = await reverseEngineerAttack(ctx, { steps });
  return { fineTune, triggerSearch };
}
