/**
 * The training workloads the benchmarks share, so that every peer trains exactly the same network at the same
 * batch with the same optimizer: the MLP 784-256-256-256-10 (dropout 0.2, SGD with momentum 0.9, MNIST-shaped
 * inputs) and the VGG-style net (batch norm, Adam, CIFAR-shaped inputs) at a given width.
 */
import * as E from '../engine/node.js';
import { Linear, mlp, vgg, type Sequential } from '../engine/nn/index.js';
import { Adam, SGD, type Optimizer } from '../engine/optim/index.js';
import { randomLabels } from './synthetic.js';
import { timeSteps } from './timing.js';

export const SGD_LR = 0.01;
export const SGD_MOMENTUM = 0.9;
export const ADAM_LR = 1e-3;

/** The optimizer of a workload, in words every peer can build its own from. */
export type OptimizerSpec = { kind: 'sgd'; lr: number; momentum: number } | { kind: 'adam'; lr: number };

export interface TrainingWorkload {
  name: string;
  /** Our [C, H, W]. */
  inputShape: [number, number, number];
  classes: number;
  batch: number;
  optimizer: OptimizerSpec;
  model(): Sequential;
}

export function mlpWorkload(batch = 128): TrainingWorkload {
  return {
    name: 'MLP 784-256-256-256-10, dropout 0.2, SGD momentum 0.9',
    inputShape: [1, 28, 28],
    classes: 10,
    batch,
    optimizer: { kind: 'sgd', lr: SGD_LR, momentum: SGD_MOMENTUM },
    model: () => mlp({ inputShape: [1, 28, 28], numClasses: 10, dropout: 0.2, seed: 1 }),
  };
}

export function vggWorkload(width: number, batch: number): TrainingWorkload {
  return {
    name: `VGG-style width ${width}, batch norm, Adam`,
    inputShape: [3, 32, 32],
    classes: 10,
    batch,
    optimizer: { kind: 'adam', lr: ADAM_LR },
    model: () => vgg({ inputShape: [3, 32, 32], numClasses: 10, width, seed: 1 }),
  };
}

/** Our optimizer for a workload's spec. */
export function ourOptimizer(spec: OptimizerSpec, params: E.Tensor[]): Optimizer {
  return spec.kind === 'sgd' ? new SGD(params, { lr: spec.lr, momentum: spec.momentum }) : new Adam(params, { lr: spec.lr });
}

/** Distinct synthetic batches a timed run cycles through (uploaded once per engine). */
export const SYNTHETIC_BATCHES = 4;

export interface SyntheticBatch {
  /** Images in [0, 1), NCHW. */
  x: Float32Array;
  labels: Int32Array;
}

/** Seeded images and labels for a workload (random data: the speed of a step does not depend on the values). */
export function syntheticBatches(w: TrainingWorkload, rng: E.Rng, count = SYNTHETIC_BATCHES): SyntheticBatch[] {
  const [ch, h, wd] = w.inputShape;
  return Array.from({ length: count }, () => {
    const x = new Float32Array(w.batch * ch * h * wd);
    for (let i = 0; i < x.length; i++) x[i] = rng.next();
    return { x, labels: randomLabels(w.batch, w.classes, rng) };
  });
}

/**
 * Our images/s for `steps` full training steps (forward, softmax cross-entropy, backward, update) of `model` after
 * `warmup` untimed ones, enqueued back to back; the clock stops once the last parameter update is read back.
 */
export async function timeOurTraining(
  model: Sequential,
  w: TrainingWorkload,
  batches: readonly SyntheticBatch[],
  warmup: number,
  steps: number,
): Promise<number> {
  const shape = [w.batch, ...w.inputShape];
  const uploaded = batches.map((b) => ({ x: E.tensor(b.x, shape), y: E.tensor(b.labels, [w.batch], 'i32') }));
  const opt = ourOptimizer(w.optimizer, model.parameters());
  const last = model.parameters().at(-1)!;
  try {
    const seconds = await timeSteps(
      (i) =>
        E.scope(() => {
          const { x, y } = uploaded[i % uploaded.length]!;
          const loss = E.crossEntropy(model.forward(x), y);
          opt.zeroGrad();
          loss.backward();
          opt.step();
        }, 'bench step'),
      async () => void (await last.data()),
      warmup,
      steps,
    );
    return (steps * w.batch) / seconds;
  } finally {
    opt.zeroGrad();
    for (const b of uploaded) {
      b.x.dispose();
      b.y.dispose();
    }
  }
}

/**
 * Let the matmul autotuner choose for the model's Linear layers at this batch (it measures each bucket once per
 * adapter and stores the choice). Quick runs use stored choices only: measuring takes seconds to minutes on a
 * software adapter.
 */
export async function tuneModelMatmuls(model: Sequential, batch: number, quick: boolean): Promise<void> {
  if (quick) {
    await E.loadMatmulTuning();
    return;
  }
  const products = model.layers.flatMap((m) =>
    m instanceof Linear ? [{ a: [batch, m.inFeatures], b: [m.outFeatures, m.inFeatures], transposeB: true }] : [],
  );
  await E.tuneMatmul(products);
}
