import { describe, expect, it } from 'vitest';
import { checkDataset, concatDatasets, meanStd, splitValidation, subset, takeFirst, type ImageDataset } from '../../engine/data/dataset.js';

/** n images of 2 channels x 1x2 pixels; image i has pixels [i, i+1 | 100+i, 101+i], label i % 3. */
function toy(n: number, groups?: number[]): ImageDataset {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.set([i, i + 1, 100 + i, 101 + i], i * 4);
  const ds: ImageDataset = {
    name: 'toy',
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    n,
    c: 2,
    h: 1,
    w: 2,
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
  };
  if (groups) ds.groups = Int32Array.from(groups);
  return ds;
}

describe('subset and takeFirst', () => {
  it('copies the chosen images, labels and groups in the given order', () => {
    const ds = toy(5, [7, 7, 8, 9, 9]);
    const s = subset(ds, [4, 1]);
    expect(s.n).toBe(2);
    expect([...s.images]).toEqual([4, 5, 104, 105, 1, 2, 101, 102]);
    expect([...s.labels]).toEqual([1, 1]);
    expect([...s.groups!]).toEqual([9, 7]);
    s.images[0] = 99;
    expect(ds.images[16]).toBe(4); // a copy, not a view
    checkDataset(s);
  });

  it('rejects out-of-range indices', () => {
    expect(() => subset(toy(3), [3])).toThrow(/index 3 is outside \[0, 3\)/);
  });

  it('takeFirst clamps to the dataset size', () => {
    expect(takeFirst(toy(5), 2).n).toBe(2);
    expect([...takeFirst(toy(5), 2).labels]).toEqual([0, 1]);
    expect(takeFirst(toy(5), 50).n).toBe(5);
  });
});

describe('splitValidation', () => {
  it('is a deterministic partition of the images', () => {
    const ds = toy(100);
    const a = splitValidation(ds, 0.2, 42);
    const b = splitValidation(ds, 0.2, 42);
    expect(a.validation.n).toBe(20);
    expect(a.train.n).toBe(80);
    expect([...a.validation.images]).toEqual([...b.validation.images]);
    // Every image appears exactly once: the first pixel value identifies it.
    const firsts = (d: ImageDataset) => Array.from({ length: d.n }, (_, i) => d.images[i * 4]!);
    const all = [...firsts(a.train), ...firsts(a.validation)].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // Both parts keep the original order.
    expect(firsts(a.train)).toEqual([...firsts(a.train)].sort((x, y) => x - y));
    // A different seed picks a different validation set.
    expect(firsts(splitValidation(ds, 0.2, 43).validation)).not.toEqual(firsts(a.validation));
  });

  it('keeps groups whole (from ds.groups or a groupOf function)', () => {
    const groups = Array.from({ length: 60 }, (_, i) => Math.floor(i / 6)); // 10 groups of 6
    const ds = toy(60, groups);
    for (const split of [splitValidation(ds, 0.25, 1), splitValidation(toy(60), 0.25, 1, (i) => groups[i]!)]) {
      const valGroups = new Set(Array.from({ length: split.validation.n }, (_, i) => Math.floor(split.validation.images[i * 4]! / 6)));
      const trainGroups = new Set(Array.from({ length: split.train.n }, (_, i) => Math.floor(split.train.images[i * 4]! / 6)));
      for (const g of valGroups) expect(trainGroups.has(g)).toBe(false);
      // 25% of 60 = 15 images: whole groups of 6 give 18.
      expect(split.validation.n).toBe(18);
    }
  });

  it('fraction 0 leaves everything in train', () => {
    const s = splitValidation(toy(10), 0, 5);
    expect(s.validation.n).toBe(0);
    expect(s.train.n).toBe(10);
  });
});

describe('meanStd', () => {
  it('matches hand-computed per-channel values', () => {
    // Channel 0 pixels over 2 images: 0,1,1,2 -> mean 1, var 0.5; channel 1: 100,101,101,102 -> mean 101, var 0.5.
    const { mean, std } = meanStd(toy(2));
    expect(mean[0]).toBeCloseTo(1 / 255, 12);
    expect(mean[1]).toBeCloseTo(101 / 255, 12);
    expect(std[0]).toBeCloseTo(Math.sqrt(0.5) / 255, 12);
    expect(std[1]).toBeCloseTo(Math.sqrt(0.5) / 255, 12);
  });
});

describe('concatDatasets and checkDataset', () => {
  it('joins parts and keeps group ids distinct across parts', () => {
    const j = concatDatasets([toy(2, [0, 1]), toy(3, [0, 0, 1])], 'joined');
    expect(j.n).toBe(5);
    expect([...j.labels]).toEqual([0, 1, 0, 1, 2]);
    expect([...j.groups!]).toEqual([0, 1, 2, 2, 3]);
  });

  it('rejects inconsistent datasets', () => {
    const bad = toy(2);
    bad.labels[1] = 3;
    expect(() => checkDataset(bad)).toThrow(/label 3 of image 1 is outside \[0, 3\)/);
    expect(() => checkDataset({ ...toy(2), n: 3 })).toThrow(/images has 8 bytes, expected n\*c\*h\*w = 12/);
  });
});
