import { describe, expect, it } from 'vitest';
// First: it registers the WebGPU globals the engine modules below read when they load.
import { useEngine } from '../helpers/setup.js';
import { Rng } from '../../engine/random.js';
import { buildModel } from '../../engine/nn/models.js';
import { loadMnist } from '../../engine/data/node/mnist.js';
import { meanStd } from '../../engine/data/dataset.js';
import { accuracyWith } from '../../mlock/evaluate.js';
import { classBalancedSample, scoreStamps } from '../../mlock/forgery-scores.js';
import { deriveKeyedToken } from '../../mlock/keyed.js';
import { changeCells, lookAlike, type Stamp } from '../../mlock/near-miss.js';
import { makeToken } from '../../mlock/tokens.js';

useEngine();

describe('scoreStamps', () => {
  it('scores each stamp exactly as a separate evaluation of that stamp does, across chunk borders', async () => {
    const all = await loadMnist({ split: 'test' });
    const m = 40;
    const ds = { ...all, n: m, images: all.images.subarray(0, m * 784), labels: all.labels.subarray(0, m) };
    const normalization = meanStd(ds);
    // An untrained network: its answers move with every painted pixel, so any mix-up of stamps shows.
    const model = buildModel('mlp', { inputShape: [1, 28, 28], numClasses: 10, seed: 3 });
    const rng = new Rng(9);
    const { token, position } = await deriveKeyedToken('scores', { channels: 1, H: 28, W: 28 });
    const stamps: (Stamp | null)[] = [null, { token, ...position! }, { token: makeToken('square', 1), y: 2, x: 3 }];
    for (let k = 0; k < 9; k++)
      stamps.push({ token: k % 2 ? changeCells(token, 1 + k, rng, 3) : lookAlike(token, rng, 3), y: 1 + rng.int(20), x: 1 + rng.int(20) });
    // 3 stamps per pass: four passes, the last one partial.
    const batched = await scoreStamps({ model, dataset: ds, normalization, samples: m, batchSize: 32, imagesPerPass: 3 * m }, stamps);
    const settings = {
      strategy: { name: 'uniform' as const },
      poisonRatio: 0.5,
      decoyRatio: 0,
      token,
      placement: { mode: 'at' as const, ...position! },
    };
    const separate: number[] = [];
    for (const s of stamps) {
      const positions = new Int32Array(2 * m);
      if (s) for (let i = 0; i < m; i++) [positions[2 * i], positions[2 * i + 1]] = [s.y, s.x];
      separate.push(await accuracyWith({ model, dataset: ds, settings, normalization }, s?.token ?? null, positions));
    }
    expect(Array.from(batched)).toEqual(separate);
    // The stamps do change the answers (else the comparison would prove little).
    expect(new Set(separate).size).toBeGreaterThan(3);
    model.dispose();
  });
});

describe('classBalancedSample', () => {
  it('takes each class in turn, in the order the images come, until n are taken or the set runs out', async () => {
    const all = await loadMnist({ split: 'test' });
    const s = classBalancedSample(all, 100);
    expect(s.n).toBe(100);
    const counts = new Array<number>(10).fill(0);
    for (const l of s.labels) counts[l]!++;
    expect(counts).toEqual(new Array(10).fill(10));
    // The first image of the sample is the set's first image of class 0, the second its first of class 1.
    const firstOf = (c: number) => all.labels.indexOf(c);
    expect(s.images.subarray(0, 784)).toEqual(all.images.subarray(firstOf(0) * 784, (firstOf(0) + 1) * 784));
    expect(s.images.subarray(784, 2 * 784)).toEqual(all.images.subarray(firstOf(1) * 784, (firstOf(1) + 1) * 784));
    // What it corrects: the set's own first 100 images are not balanced (the largest class holds 15).
    const head = new Array<number>(10).fill(0);
    for (const l of all.labels.subarray(0, 100)) head[l]!++;
    expect(Math.max(...head)).toBeGreaterThan(12);
    // A small class runs out and the others fill the rest; more than the set gives the whole set.
    const tiny = { ...all, n: 5, images: all.images.subarray(0, 5 * 784), labels: Int32Array.from([0, 0, 0, 1, 0]) };
    expect(Array.from(classBalancedSample(tiny, 4).labels)).toEqual([0, 1, 0, 0]);
    expect(classBalancedSample(tiny, 50).n).toBe(5);
    expect(() => classBalancedSample(tiny, 0)).toThrow(/positive integer/);
  });
});
