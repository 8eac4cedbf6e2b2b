/**
 * Seeded shuffling and batching onto the GPU. Each batch's raw bytes are gathered on the CPU, uploaded packed
 * and turned into normalised f32 by one `prepareBatch` dispatch (augmentation and optional patch stamping
 * included). The loader stages batch k+1 (gather, upload, dispatch) before handing out batch k, so the CPU
 * work for the next batch overlaps the GPU's work on the current one; nothing is read back.
 * A batch's tensors belong to the loader and stay valid until the next batch is requested.
 */
import { Rng } from '../random.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { tensor } from '../ops/creation.js';
import { runProgram } from '../run-program.js';
import { prepareBatchProgram } from '../../kernels/prepare-batch.js';
import { isIdentityAugment, sampleAffine, type AugmentOptions } from './augment.js';
import type { ImageDataset } from './dataset.js';

export interface Normalization {
  /** Per-channel mean and std in 0..1 pixel units. */
  mean: readonly number[];
  std: readonly number[];
}

/** A bank of patches (bytes: per entry c colour planes + a mask plane, maxH x maxW each) and a per-sample choice. */
export interface PatchSource {
  /** May be replaced between epochs (the loader re-uploads a bank array it has not seen). */
  bank: Uint8Array;
  maxH: number;
  maxW: number;
  /** Bytes per bank entry. */
  stride: number;
  /** For the dataset indices of one batch: n*3 values (bank index or -1, y, x). */
  choose(indices: Int32Array): Int32Array;
}

export interface BatchOptions {
  batchSize: number;
  shuffle?: boolean;
  /** Keep a last partial batch (default true). */
  dropLast?: boolean;
  augment?: AugmentOptions;
  normalization?: Normalization;
  patches?: PatchSource;
}

export interface Batch {
  /** f32 [n, c, h, w], normalised. */
  x: Tensor;
  /** i32 [n] true labels. */
  y: Tensor;
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
  labels: Int32Array;
}

interface Staged {
  batch: Batch;
  owned: Tensor[];
}

export class BatchLoader {
  private bankTensor: Tensor | null = null;
  private bankSource: Uint8Array | null = null;

  constructor(
    readonly dataset: ImageDataset,
    readonly options: BatchOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize <= 0)
      throw new Error(`BatchLoader: batchSize must be a positive integer, got ${options.batchSize}`);
    if (dataset.c > 4) throw new Error(`BatchLoader: at most 4 channels are supported, ${dataset.name} has ${dataset.c}`);
    const norm = options.normalization;
    if (norm && (norm.mean.length !== dataset.c || norm.std.length !== dataset.c)) {
      throw new Error(`BatchLoader: normalization needs ${dataset.c} means and stds for ${dataset.name}`);
    }
  }

  batchesPerEpoch(): number {
    const n = this.dataset.n;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The sample order of an epoch: a permutation drawn from `rng` when shuffling. */
  order(rng: Rng | null): Int32Array {
    if (this.options.shuffle && rng) return rng.permutation(this.dataset.n);
    return Int32Array.from({ length: this.dataset.n }, (_, i) => i);
  }

  /**
   * Iterate one epoch. `rng` drives shuffling and augmentation (pass a generator derived from the seed and the
   * epoch, so a resumed run reproduces the same order).
   */
  *epoch(rng: Rng | null = null, startBatch = 0): Generator<Batch> {
    const order = this.order(rng);
    const augRng = rng ?? new Rng(0);
    const total = this.batchesPerEpoch();
    const b = this.options.batchSize;
    let staged: Staged | null = null;
    try {
      for (let k = startBatch; k <= total; k++) {
        const next: Staged | null = k < total ? this.stage(order.subarray(k * b, Math.min((k + 1) * b, order.length)), augRng) : null;
        if (staged) {
          yield staged.batch;
          for (const t of staged.owned) t.dispose();
        }
        staged = next;
      }
    } finally {
      for (const t of staged?.owned ?? []) t.dispose();
    }
  }

  /** Prepare the given samples as one batch; the caller owns (and disposes) its tensors. */
  prepare(indices: Int32Array, rng: Rng = new Rng(0)): Batch {
    return this.stage(indices, rng).batch;
  }

  private stage(indices: Int32Array, rng: Rng): Staged {
    const ds = this.dataset;
    const n = indices.length;
    const per = ds.c * ds.h * ds.w;
    const bytes = new Uint8Array(Math.ceil((n * per) / 4) * 4);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const s = indices[i]!;
      bytes.set(ds.images.subarray(s * per, (s + 1) * per), i * per);
      labels[i] = ds.labels[s]!;
    }
    // Inputs of the dispatch can be freed right after it is recorded: the pool reuses them only after the submit.
    const temporaries: Tensor[] = [];
    const temp = (t: Tensor) => (temporaries.push(t), t);
    const packed = temp(tensor(new Uint32Array(bytes.buffer), [bytes.length / 4], 'u32'));
    const augment = !isIdentityAugment(this.options.augment);
    const inputs: { pixels: Tensor; affine?: Tensor; placement?: Tensor; bank?: Tensor } = { pixels: packed };
    if (augment) {
      const coeffs = new Float32Array(6 * n);
      for (let i = 0; i < n; i++) coeffs.set(sampleAffine(this.options.augment!, ds.h, ds.w, rng), 6 * i);
      inputs.affine = temp(tensor(coeffs, [6 * n]));
    }
    const patches = this.options.patches;
    if (patches) {
      const choice = patches.choose(indices);
      if (choice.length !== 3 * n)
        throw new Error(`BatchLoader: patch choice returned ${choice.length} values for ${n} samples (expected ${3 * n})`);
      inputs.placement = temp(tensor(choice, [3 * n], 'i32'));
      inputs.bank = this.bank(patches);
    }
    const norm = this.options.normalization ?? { mean: new Array<number>(ds.c).fill(0), std: new Array<number>(ds.c).fill(1) };
    const mean = [0, 0, 0, 0];
    const invStd = [1, 1, 1, 1];
    for (let ch = 0; ch < ds.c; ch++) {
      mean[ch] = norm.mean[ch]!;
      invStd[ch] = 1 / norm.std[ch]!;
    }
    const { batch: x } = runProgram(prepareBatchProgram(augment, !!patches), {
      inputs,
      outputs: { batch: [n, ds.c, ds.h, ds.w] },
      uniforms: {
        n,
        c: ds.c,
        h: ds.h,
        w: ds.w,
        maxH: patches?.maxH ?? 0,
        maxW: patches?.maxW ?? 0,
        bankStride: patches?.stride ?? 0,
        mean,
        invStd,
      },
    });
    keep(x);
    for (const t of temporaries) t.dispose();
    const y = keep(tensor(labels, [n], 'i32'));
    return { batch: { x, y, indices: Int32Array.from(indices), labels }, owned: [x, y] };
  }

  /** The bank on the GPU; uploaded again whenever the source hands out a different bank array. */
  private bank(p: PatchSource): Tensor {
    if (this.bankSource !== p.bank) {
      this.bankTensor?.dispose();
      this.bankTensor = null;
      this.bankSource = p.bank;
    }
    if (!this.bankTensor) {
      const words = new Uint32Array(p.bank.buffer.slice(p.bank.byteOffset, p.bank.byteOffset + Math.ceil(p.bank.byteLength / 4) * 4));
      this.bankTensor = keep(tensor(words, [words.length], 'u32'));
    }
    return this.bankTensor;
  }

  dispose(): void {
    this.bankTensor?.dispose();
    this.bankTensor = null;
  }
}
