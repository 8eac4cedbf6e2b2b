/**
 * The in-memory image dataset every loader produces, and the few operations training needs on it
 * (subsets, a seeded validation split, per-channel statistics).
 *
 * Pixels stay as raw bytes (0..255) in NCHW order: that is 4x smaller than float32, uploads to the
 * GPU as-is, and normalisation happens in a kernel. This file has no platform dependencies.
 */
import { Rng } from '../random.js';

export interface ImageDataset {
  /** Human-readable name, e.g. "mnist/train"; used in error messages and logs. */
  name: string;
  /** N*C*H*W bytes, NCHW order (image, channel, row, column), raw values 0..255. */
  images: Uint8Array;
  /** One class index per image, each in [0, numClasses). */
  labels: Int32Array;
  n: number;
  c: number;
  h: number;
  w: number;
  numClasses: number;
  /** Class names by index, when the source provides them. */
  classNames?: string[];
  /**
   * Optional group id per image. Images with the same id are near-duplicates (GTSRB: the 30 frames
   * of one physical sign's track) and must land on the same side of a train/validation split.
   */
  groups?: Int32Array;
}

/** Throws unless the arrays agree with the declared shape and every label is in range. */
export function checkDataset(ds: ImageDataset): void {
  const where = `dataset "${ds.name}"`;
  for (const [key, v] of [
    ['n', ds.n],
    ['c', ds.c],
    ['h', ds.h],
    ['w', ds.w],
    ['numClasses', ds.numClasses],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${where}: ${key} must be a non-negative integer, got ${v}`);
  }
  const expected = ds.n * ds.c * ds.h * ds.w;
  if (ds.images.length !== expected) {
    throw new Error(`${where}: images has ${ds.images.length} bytes, expected n*c*h*w = ${expected}`);
  }
  if (ds.labels.length !== ds.n) throw new Error(`${where}: ${ds.labels.length} labels for ${ds.n} images`);
  for (let i = 0; i < ds.n; i++) {
    const y = ds.labels[i]!;
    if (y < 0 || y >= ds.numClasses) {
      throw new Error(`${where}: label ${y} of image ${i} is outside [0, ${ds.numClasses})`);
    }
  }
  if (ds.classNames !== undefined && ds.classNames.length !== ds.numClasses) {
    throw new Error(`${where}: ${ds.classNames.length} class names for ${ds.numClasses} classes`);
  }
  if (ds.groups !== undefined && ds.groups.length !== ds.n) {
    throw new Error(`${where}: ${ds.groups.length} group ids for ${ds.n} images`);
  }
}

/** A new dataset holding copies of the given images, in the given order. */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const per = ds.c * ds.h * ds.w;
  const m = indices.length;
  const images = new Uint8Array(m * per);
  const labels = new Int32Array(m);
  const groups = ds.groups ? new Int32Array(m) : undefined;
  for (let k = 0; k < m; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new Error(`subset of "${ds.name}": index ${i} is outside [0, ${ds.n})`);
    }
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i]!;
    if (groups) groups[k] = ds.groups![i]!;
  }
  return withArrays(ds, name, images, labels, groups);
}

/** The first min(n, ds.n) images; handy for quick runs and smoke tests. */
export function takeFirst(ds: ImageDataset, n: number): ImageDataset {
  if (!Number.isInteger(n) || n < 0) throw new Error(`takeFirst: n must be a non-negative integer, got ${n}`);
  const m = Math.min(n, ds.n);
  const per = ds.c * ds.h * ds.w;
  return withArrays(ds, ds.name, ds.images.slice(0, m * per), ds.labels.slice(0, m), ds.groups ? ds.groups.slice(0, m) : undefined);
}

export interface ValidationSplit {
  train: ImageDataset;
  validation: ImageDataset;
}

/**
 * Seeded split into train and validation parts. Whole groups move together, so near-duplicates
 * (GTSRB tracks) never straddle the split and inflate validation accuracy. Groups come from
 * `groupOf` when given, else from `ds.groups`, else every image is its own group.
 *
 * Groups are shuffled and taken until the validation part holds at least round(fraction * n)
 * images, so it can overshoot by less than one group. Both parts keep the original image order,
 * which makes the result depend only on (dataset, fraction, seed).
 */
export function splitValidation(ds: ImageDataset, fraction: number, seed: number, groupOf?: (i: number) => number): ValidationSplit {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`splitValidation: fraction must be in [0, 1), got ${fraction}`);
  const group = groupOf ?? (ds.groups ? (i: number) => ds.groups![i]! : (i: number) => i);

  // Dense group indices in order of first appearance, so the shuffle does not depend on id values.
  const denseOf = new Map<number, number>();
  const groupOfImage = new Int32Array(ds.n);
  const sizes: number[] = [];
  for (let i = 0; i < ds.n; i++) {
    const g = group(i);
    let d = denseOf.get(g);
    if (d === undefined) {
      d = sizes.length;
      denseOf.set(g, d);
      sizes.push(0);
    }
    sizes[d]!++;
    groupOfImage[i] = d;
  }

  const target = Math.round(fraction * ds.n);
  const inValidation = new Uint8Array(sizes.length);
  const order = new Rng(seed).permutation(sizes.length);
  let taken = 0;
  for (let k = 0; k < order.length && taken < target; k++) {
    inValidation[order[k]!] = 1;
    taken += sizes[order[k]!]!;
  }

  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (let i = 0; i < ds.n; i++) (inValidation[groupOfImage[i]!] ? valIdx : trainIdx).push(i);
  return {
    train: subset(ds, trainIdx, `${ds.name}[train part]`),
    validation: subset(ds, valIdx, `${ds.name}[validation part]`),
  };
}

/** Per-channel mean and (population) standard deviation, in 0..1 units (pixel / 255). */
export function meanStd(ds: ImageDataset): { mean: number[]; std: number[] } {
  const plane = ds.h * ds.w;
  const count = ds.n * plane;
  if (count === 0) throw new Error(`meanStd: dataset "${ds.name}" has no pixels`);
  // Integer sums stay exact in float64 (255^2 * 1e10 < 2^53), so E[x^2] - E[x]^2 loses nothing.
  const sum = new Float64Array(ds.c);
  const sumSq = new Float64Array(ds.c);
  for (let i = 0; i < ds.n; i++) {
    for (let ch = 0; ch < ds.c; ch++) {
      const base = (i * ds.c + ch) * plane;
      let s = 0;
      let s2 = 0;
      for (let p = 0; p < plane; p++) {
        const v = ds.images[base + p]!;
        s += v;
        s2 += v * v;
      }
      sum[ch]! += s;
      sumSq[ch]! += s2;
    }
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let ch = 0; ch < ds.c; ch++) {
    const m = sum[ch]! / count;
    const variance = Math.max(0, sumSq[ch]! / count - m * m);
    mean.push(m / 255);
    std.push(Math.sqrt(variance) / 255);
  }
  return { mean, std };
}

/** Joins datasets of identical image shape and class count (e.g. CIFAR's five training batches). */
export function concatDatasets(parts: ImageDataset[], name: string): ImageDataset {
  if (parts.length === 0) throw new Error(`concatDatasets "${name}": nothing to join`);
  const first = parts[0]!;
  let n = 0;
  for (const p of parts) {
    if (p.c !== first.c || p.h !== first.h || p.w !== first.w || p.numClasses !== first.numClasses) {
      throw new Error(
        `concatDatasets "${name}": "${p.name}" is ${p.c}x${p.h}x${p.w} with ${p.numClasses} classes, ` +
          `but "${first.name}" is ${first.c}x${first.h}x${first.w} with ${first.numClasses}`,
      );
    }
    n += p.n;
  }
  const per = first.c * first.h * first.w;
  const images = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  const allGrouped = parts.every((p) => p.groups !== undefined);
  const groups = allGrouped ? new Int32Array(n) : undefined;
  let at = 0;
  let groupBase = 0;
  for (const p of parts) {
    images.set(p.images, at * per);
    labels.set(p.labels, at);
    if (groups) {
      // Shift ids so that groups from different parts stay distinct.
      let maxId = -1;
      for (let i = 0; i < p.n; i++) {
        groups[at + i] = groupBase + p.groups![i]!;
        maxId = Math.max(maxId, p.groups![i]!);
      }
      groupBase += maxId + 1;
    }
    at += p.n;
  }
  return withArrays(first, name, images, labels, groups);
}

function withArrays(
  like: ImageDataset,
  name: string,
  images: Uint8Array,
  labels: Int32Array,
  groups: Int32Array | undefined,
): ImageDataset {
  const out: ImageDataset = {
    name,
    images,
    labels,
    n: labels.length,
    c: like.c,
    h: like.h,
    w: like.w,
    numClasses: like.numClasses,
  };
  if (like.classNames) out.classNames = like.classNames.slice();
  if (groups) out.groups = groups;
  return out;
}
