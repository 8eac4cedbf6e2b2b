/**
 * The training and evaluation loops. Per step: forward, fused softmax cross-entropy (hard labels or soft
 * targets), backward, fused optimizer update; everything inside a scope, so intermediates return to the pool.
 * Loss and accuracy are summed on the GPU and read back only every `readEvery` steps (which also keeps the
 * CPU from queueing unbounded work ahead of the GPU).
 */
import { noGrad } from '../graph.js';
import { scope } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { equal, mul } from '../ops/elementwise.js';
import { argmax, sum } from '../ops/reduce.js';
import { crossEntropy } from '../ops/softmax.js';
import type { Batch, BatchLoader } from '../data/batches.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { LrSchedule } from '../optim/schedule.js';
import type { Rng } from '../random.js';
import { GpuSum } from './accumulator.js';

export interface StepTargets {
  /** i32 [n] labels, or f32 [n, C] target distributions. */
  target: Tensor;
}

export interface Progress {
  epoch: number;
  batch: number;
  batches: number;
  samples: number;
  /** Mean training loss so far this epoch (at the last readback). */
  loss: number;
  lr: number;
}

export interface TrainEpochOptions {
  model: Module;
  optimizer: Optimizer;
  loader: BatchLoader;
  epoch: number;
  rng: Rng;
  schedule?: LrSchedule;
  /** Build the training target for a batch (default: its true labels). Tensors it returns are freed after the step. */
  targets?: (batch: Batch) => Tensor;
  readEvery?: number;
  onProgress?: (p: Progress) => void;
  /** Resume inside an epoch at this batch. */
  startBatch?: number;
}

export interface EpochResult {
  loss: number;
  /** Accuracy of the training-time predictions against the batches' true labels. */
  accuracy: number;
  samples: number;
  seconds: number;
}

export async function trainEpoch(o: TrainEpochOptions): Promise<EpochResult> {
  const start = performance.now();
  const lossSum = new GpuSum();
  const correct = new GpuSum();
  const batches = o.loader.batchesPerEpoch();
  const readEvery = o.readEvery ?? 20;
  let samples = 0;
  let k = o.startBatch ?? 0;
  o.model.train();
  try {
    for (const batch of o.loader.epoch(o.rng, k)) {
      if (o.schedule) o.optimizer.lr = o.schedule.at(o.epoch, k / batches);
      const n = batch.labels.length;
      scope(() => {
        const logits = o.model.forward(batch.x);
        const target = o.targets ? o.targets(batch) : batch.y;
        const loss = crossEntropy(logits, target, { reduction: 'mean' });
        o.optimizer.zeroGrad();
        loss.backward();
        o.optimizer.step();
        noGrad(() => {
          lossSum.add(mul(loss, n));
          correct.add(sum(equal(argmax(logits, 1), batch.y)));
        });
      }, 'train step');
      samples += n;
      k++;
      if (k % readEvery === 0 || k === batches) {
        const loss = (await lossSum.value()) / samples;
        o.onProgress?.({ epoch: o.epoch, batch: k, batches, samples, loss, lr: o.optimizer.lr });
      }
    }
    o.optimizer.zeroGrad();
    const [loss, right] = await Promise.all([lossSum.value(), correct.value()]);
    return {
      loss: loss / Math.max(samples, 1),
      accuracy: right / Math.max(samples, 1),
      samples,
      seconds: (performance.now() - start) / 1000,
    };
  } finally {
    lossSum.dispose();
    correct.dispose();
  }
}

export interface EvalResult {
  accuracy: number;
  loss: number;
  n: number;
}

/** Accuracy (against the batches' true labels) and mean cross-entropy of `model` in eval mode. */
export async function evaluate(model: Module, loader: BatchLoader): Promise<EvalResult> {
  const lossSum = new GpuSum();
  const correct = new GpuSum();
  let n = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    for (const batch of loader.epoch(null)) {
      scope(() =>
        noGrad(() => {
          const logits = model.forward(batch.x);
          lossSum.add(crossEntropy(logits, batch.y, { reduction: 'sum' }));
          correct.add(sum(equal(argmax(logits, 1), batch.y)));
        }),
      );
      n += batch.labels.length;
    }
    const [loss, right] = await Promise.all([lossSum.value(), correct.value()]);
    return { accuracy: right / Math.max(n, 1), loss: loss / Math.max(n, 1), n };
  } finally {
    model.train(wasTraining);
    lossSum.dispose();
    correct.dispose();
  }
}

/** Class probabilities are not needed for accuracy; predictions alone (i32 [n]). */
export function predictClasses(model: Module, x: Tensor): Tensor {
  return noGrad(() => scope(() => argmax(model.forward(x), 1)));
}
