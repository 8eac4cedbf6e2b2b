/** The M-LOCK paper's models, built for any input geometry [C, H, W] and class count. */
import { Rng } from '../random.js';
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential } from './layers.js';
import type { Module } from './module.js';

export interface ModelSpec {
  inputShape: readonly [number, number, number];
  numClasses: number;
  seed?: number;
}

export type ModelName = 'mlp' | 'vgg' | 'lenet5';

/** MLP in-256-256-256-classes with ReLU and dropout 0.2 (the paper's MNIST/Fashion-MNIST model). */
export function mlp(spec: ModelSpec & { hidden?: readonly number[]; dropout?: number }): Sequential {
  const rng = new Rng(spec.seed ?? 0);
  const [c, h, w] = spec.inputShape;
  const hidden = spec.hidden ?? [256, 256, 256];
  const p = spec.dropout ?? 0.2;
  const layers: Module[] = [new Flatten()];
  let width = c * h * w;
  hidden.forEach((units, i) => {
    layers.push(new Linear(width, units, { rng: rng.fork() }), new ReLU());
    if (p > 0) layers.push(new Dropout(p, (spec.seed ?? 0) * 31 + i));
    width = units;
  });
  layers.push(new Linear(width, spec.numClasses, { rng: rng.fork() }));
  return new Sequential(...layers);
}

/**
 * VGG-style stack `[w, w, M, 2w, 2w, M, 4w, 4w, M, 8w, M]` of 3x3 conv (padding 1) + batch norm + ReLU, then a
 * linear classifier. The paper uses w = 32 for SVHN and w = 128 for CIFAR-10/GTSRB.
 */
export function vgg(spec: ModelSpec & { width?: number }): Sequential {
  const rng = new Rng(spec.seed ?? 0);
  const w = spec.width ?? 32;
  const plan: (number | 'M')[] = [w, w, 'M', 2 * w, 2 * w, 'M', 4 * w, 4 * w, 'M', 8 * w, 'M'];
  let [channels, h, wd] = spec.inputShape;
  const layers: Module[] = [];
  for (const item of plan) {
    if (item === 'M') {
      layers.push(new MaxPool2d(2));
      h = Math.floor(h / 2);
      wd = Math.floor(wd / 2);
    } else {
      layers.push(
        new Conv2d(channels, item, 3, { padding: 1, bias: false, rng: rng.fork(), init: 'kaiming-normal' }),
        new BatchNorm2d(item),
        new ReLU(),
      );
      channels = item;
    }
  }
  if (h < 1 || wd < 1) throw new Error(`vgg: input ${spec.inputShape.join('x')} is too small for four 2x2 poolings`);
  layers.push(new Flatten(), new Linear(channels * h * wd, spec.numClasses, { rng: rng.fork() }));
  return new Sequential(...layers);
}

/** LeNet-5 (ReLU and max pooling, the common modern variant); 'same' first conv keeps 28x28 inputs working. */
export function lenet5(spec: ModelSpec): Sequential {
  const rng = new Rng(spec.seed ?? 0);
  const [c, h, w] = spec.inputShape;
  const pad = h < 32 ? 2 : 0;
  const h1 = Math.floor((h + 2 * pad - 4) / 2);
  const w1 = Math.floor((w + 2 * pad - 4) / 2);
  const h2 = Math.floor((h1 - 4) / 2);
  const w2 = Math.floor((w1 - 4) / 2);
  return new Sequential(
    new Conv2d(c, 6, 5, { padding: pad, rng: rng.fork() }),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(6, 16, 5, { rng: rng.fork() }),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(16 * h2 * w2, 120, { rng: rng.fork() }),
    new ReLU(),
    new Linear(120, 84, { rng: rng.fork() }),
    new ReLU(),
    new Linear(84, spec.numClasses, { rng: rng.fork() }),
  );
}

/** `dropout` applies to the MLP (its hidden layers); the other models have their own fixed regularisation. */
export function buildModel(name: ModelName, spec: ModelSpec & { width?: number; dropout?: number }): Sequential {
  switch (name) {
    case 'mlp':
      return mlp(spec);
    case 'vgg':
      return vgg(spec);
    case 'lenet5':
      return lenet5(spec);
    default:
      throw new Error(`unknown model '${name as string}' (expected mlp, vgg or lenet5)`);
  }
}
