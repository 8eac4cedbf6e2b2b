/**
 * Scoring many forged stamps at once: the accuracy (against the true labels) of a model on the same m images
 * with each stamp painted on, for thousands of stamps. One loader pass covers a chunk of stamps: the images
 * are repeated once per stamp, and a PatchSource tells the fused prepare kernel which bank token goes where,
 * so the cost is the forward passes alone, not a loader and an upload per forgery.
 */
import { argmax, equal, keep, noGrad, scope, type Tensor } from '../engine/index.js';
import { BatchLoader, subset, type ImageDataset, type Normalization, type PatchSource } from '../engine/data/index.js';
import type { Module } from '../engine/nn/index.js';
import { packTokenBank } from './decoys.js';
import type { Stamp } from './near-miss.js';
import { blankToken, type Token } from './tokens.js';

/**
 * `n` images of the set spread evenly over its classes: the first image of each class in turn, then the
 * second, and so on (a class that runs out is skipped). A network that answers one constant class to a
 * forgery then scores 1/C on them, the useless answer the bounds are about, whatever the class shares of
 * the set's first images (the first 100 MNIST test images hold 15 of one class, and a locked network
 * answering that class scored 15% on every forgery).
 */
export function classBalancedSample(ds: ImageDataset, n: number): ImageDataset {
  if (!Number.isInteger(n) || n < 1) throw new Error(`classBalancedSample: n must be a positive integer, got ${n}`);
  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.labels[i]!]!.push(i);
  const picked: number[] = [];
  const m = Math.min(n, ds.n);
  for (let k = 0; picked.length < m; k++)
    for (const members of byClass) if (k < members.length && picked.length < m) picked.push(members[k]!);
  return subset(ds, picked, `${ds.name}[${m} balanced over classes]`);
}

export interface ScoreSetup {
  model: Module;
  /** The first `samples` images of this set are used for every stamp. */
  dataset: ImageDataset;
  normalization: Normalization;
  samples: number;
  batchSize?: number;
  /** Images held per loader pass (default 25,000: about 20 MB of MNIST, 75 MB of CIFAR). */
  imagesPerPass?: number;
}

/** Accuracy of the model with each stamp (null = nothing painted) on the first `samples` images. */
export async function scoreStamps(setup: ScoreSetup, stamps: readonly (Stamp | null)[]): Promise<Float64Array> {
  const ds = setup.dataset;
  const m = Math.min(setup.samples, ds.n);
  if (!(m > 0)) throw new Error(`scoreStamps: need at least one image, the set ${ds.name} has ${ds.n}`);
  const per = ds.c * ds.h * ds.w;
  const chunk = Math.max(1, Math.floor((setup.imagesPerPass ?? 25_000) / m));
  const scores = new Float64Array(stamps.length);
  for (let start = 0; start < stamps.length; start += chunk) {
    const part = stamps.slice(start, start + chunk);
    const v = part.length;
    const images = new Uint8Array(v * m * per);
    const labels = new Int32Array(v * m);
    for (let k = 0; k < v; k++) {
      images.set(ds.images.subarray(0, m * per), k * m * per);
      labels.set(ds.labels.subarray(0, m), k * m);
    }
    const repeated: ImageDataset = { ...ds, name: `${ds.name}[${m} x ${v} stamps]`, images, labels, n: v * m };
    const loader = new BatchLoader(repeated, {
      batchSize: setup.batchSize ?? 1000,
      normalization: setup.normalization,
      patches: new StampSource(part, m, ds.c),
    });
    try {
      const right = await correctPerSample(setup.model, loader);
      for (let k = 0; k < v; k++) {
        let sum = 0;
        for (let i = k * m; i < (k + 1) * m; i++) sum += right[i]!;
        scores[start + k] = sum / m;
      }
    } finally {
      loader.dispose();
    }
  }
  return scores;
}

/**
 * 1 where the model's class equals the label, per sample in dataset order. The per-batch hits stay on the GPU
 * until the pass ends and are read back together: a readback per batch would stall the queue every batch.
 */
async function correctPerSample(model: Module, loader: BatchLoader): Promise<Uint8Array> {
  const out = new Uint8Array(loader.dataset.n);
  const wasTraining = model.training;
  const pending: { hits: Tensor; indices: Int32Array }[] = [];
  model.eval();
  try {
    for (const batch of loader.epoch(null)) {
      pending.push({ hits: scope(() => noGrad(() => keep(equal(argmax(model.forward(batch.x), 1), batch.y)))), indices: batch.indices });
    }
    const values = await Promise.all(pending.map((p) => p.hits.data()));
    pending.forEach((p, k) => p.indices.forEach((s, i) => (out[s] = Number(values[k]![i]) ? 1 : 0)));
  } finally {
    for (const p of pending) p.hits.dispose();
    model.train(wasTraining);
  }
  return out;
}

/** Sample s of the repeated set gets stamp floor(s / m). */
class StampSource implements PatchSource {
  bank: Uint8Array;
  maxH: number;
  maxW: number;
  stride: number;
  private index: Int16Array;

  constructor(
    private readonly stamps: readonly (Stamp | null)[],
    private readonly m: number,
    channels: number,
  ) {
    const tokens: Token[] = [];
    const ids = new Map<Token, number>();
    this.index = Int16Array.from(stamps, (s) => {
      if (!s) return -1;
      let id = ids.get(s.token);
      if (id === undefined) ids.set(s.token, (id = tokens.push(s.token) - 1));
      return id;
    });
    // An all-clean chunk still needs a bank entry; it is never painted.
    const packed = packTokenBank(tokens.length ? tokens : [blankToken(channels)]);
    this.bank = packed.data;
    this.maxH = packed.maxH;
    this.maxW = packed.maxW;
    this.stride = packed.stride;
  }

  choose(indices: Int32Array): Int32Array {
    const out = new Int32Array(3 * indices.length);
    indices.forEach((s, i) => {
      const k = Math.floor(s / this.m);
      const stamp = this.stamps[k];
      out[3 * i] = this.index[k]!;
      out[3 * i + 1] = stamp ? stamp.y : 0;
      out[3 * i + 2] = stamp ? stamp.x : 0;
    });
    return out;
  }
}
