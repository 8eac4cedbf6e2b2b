import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodeJpeg } from 'jpeg-js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageDataset } from '../../engine/data/dataset.js';
import { gunzip } from '../../engine/data/gzip.js';
import { loadCifar10 } from '../../engine/data/node/cifar.js';
import { loadDataset } from '../../engine/data/node/load-dataset.js';
import { DatasetNotFoundError } from '../../engine/data/node/missing.js';
import { readTar, type TarEntry } from '../../engine/data/tar.js';
import { writeTar } from './builders/tar.js';
import { psnr } from '../helpers/stats.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const archive = resolve(root, '../shared/data/cifar10-jpeg.tar.gz');
const testBatch = resolve(root, '../shared/data/cifar-10-batches-bin-subset/test_batch.bin');

// Written out here, not imported, so a wrong constant in the engine cannot agree with itself.
const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const PER = 3 * 32 * 32;

const image = (ds: ImageDataset, i: number) => ds.images.subarray(i * PER, (i + 1) * PER);

describe.skipIf(!existsSync(archive) || !existsSync(testBatch))('CIFAR-10 JPEG archive in ../shared/data (skipped when missing)', () => {
  let test: ImageDataset;
  let entries: TarEntry[];
  beforeAll(async () => {
    test = await loadCifar10({ split: 'test', path: archive });
    entries = readTar(await gunzip(new Uint8Array(readFileSync(archive))), archive);
  });

  it('loads all 10,000 test images, class by class, 1,000 per class', () => {
    expect(test.name).toBe('cifar10/test (jpeg)');
    expect([test.n, test.c, test.h, test.w, test.numClasses]).toEqual([10000, 3, 32, 32, 10]);
    expect(test.images.length).toBe(10000 * PER);
    expect(test.classNames).toEqual(CLASSES);
    for (let i = 0; i < test.n; i++) if (test.labels[i] !== Math.floor(i / 1000)) expect.fail(`image ${i} has label ${test.labels[i]}`);
  });

  it('matches the lossless test batch within JPEG error, the cat of record 0 included', () => {
    // Raw records (label byte + 3072 planar pixels), read without the engine's CIFAR parser.
    const bin = new Uint8Array(readFileSync(testBatch));
    const records = bin.length / (1 + PER);
    const record = (r: number) => bin.subarray(r * (1 + PER) + 1, (r + 1) * (1 + PER));
    expect(bin[0]).toBe(CLASSES.indexOf('cat'));
    // test/<class>/0000.jpg is the first image of that class in test_batch (shared data README).
    for (let label = 0; label < 10; label++) {
      const ofClass = [...Array(records).keys()].filter((r) => bin[r * (1 + PER)] === label);
      const jpeg = image(test, label * 1000);
      const truth = psnr(jpeg, record(ofClass[0]!));
      const next = psnr(jpeg, record(ofClass[1]!));
      // README: quality-75 JPEGs average about 30 dB against the originals, the worst about 22 dB;
      // a wrong image, flipped axis or swapped channel scores far lower.
      expect(truth, CLASSES[label]).toBeGreaterThan(24);
      expect(truth, CLASSES[label]).toBeGreaterThan(next + 5);
    }
  });

  it('reads an extracted folder (or its parent) and a plain .tar the same way, also through loadDataset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-jpeg-'));
    const picked = entries.filter((e) => /^cifar10-jpeg\/(test\/[a-z]+\/000[0-2]|train\/[a-z]+\/0000)\.jpg$/.test(e.path));
    expect(picked).toHaveLength(40);
    for (const e of picked) {
      mkdirSync(join(dir, e.path, '..'), { recursive: true });
      writeFileSync(join(dir, e.path), e.data);
    }
    const tarPath = join(dir, 'small.tar');
    writeFileSync(tarPath, writeTar(picked.map((e) => ({ path: e.path.replace('cifar10-jpeg/', 'other/top/'), data: e.data }))));

    const fromFolder = await loadCifar10({ split: 'test', path: join(dir, 'cifar10-jpeg') });
    const fromParent = await loadDataset('cifar10', 'test', { path: dir });
    const fromTar = await loadCifar10({ split: 'test', path: tarPath });
    for (const ds of [fromFolder, fromParent, fromTar]) {
      expect(ds.name).toBe('cifar10/test (jpeg)');
      expect([...ds.labels]).toEqual(CLASSES.flatMap((_, label) => [label, label, label]));
      for (let i = 0; i < ds.n; i++) {
        const full = Math.floor(i / 3) * 1000 + (i % 3);
        expect(image(ds, i)).toEqual(image(test, full)); // same decoder, same bytes
      }
    }
    const train = await loadCifar10({ split: 'train', path: tarPath });
    expect([train.name, train.n, [...train.labels]]).toEqual(['cifar10/train (jpeg)', 10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });
});

describe('CIFAR-10 JPEG layout errors', () => {
  const jpeg = encodeJpeg({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 4).fill(128) }, 75).data;

  function folder(split: string, classes: string[]): string {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-jpeg-bad-'));
    for (const c of classes) {
      mkdirSync(join(dir, split, c), { recursive: true });
      writeFileSync(join(dir, split, c, '0000.jpg'), jpeg);
    }
    return dir;
  }

  it('rejects missing or extra class folders, since they would shift the labels', async () => {
    await expect(loadCifar10({ split: 'test', path: folder('test', CLASSES.slice(0, 9)) })).rejects.toThrow(
      /test\/ must hold exactly the class folders airplane, .*, truck; missing: truck$/,
    );
    await expect(loadCifar10({ split: 'test', path: folder('test', ['aardvark', ...CLASSES.slice(1)]) })).rejects.toThrow(
      /missing: airplane; unexpected: aardvark$/,
    );
  });

  it('reports a missing split and an archive of another layout', async () => {
    const err = await loadCifar10({ split: 'test', path: folder('train', CLASSES) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect((err as Error).message).toMatch(/cifar10 dataset not found at .* \(no test\/ folder\)/);

    const dir = mkdtempSync(join(tmpdir(), 'cifar-jpeg-tar-'));
    const flat = join(dir, 'flat.tar');
    writeFileSync(flat, writeTar([{ path: 'images/cat.jpg', data: jpeg }]));
    await expect(loadCifar10({ split: 'test', path: flat })).rejects.toThrow(
      /flat\.tar: no images at train\/<class>\/<file>.*not a CIFAR-10 JPEG archive/,
    );
    const trainOnly = join(dir, 'train-only.tar');
    writeFileSync(trainOnly, writeTar(CLASSES.map((c) => ({ path: `d/train/${c}/0.jpg`, data: jpeg }))));
    await expect(loadCifar10({ split: 'test', path: trainOnly })).rejects.toThrow(/train-only\.tar: the archive has no d\/test\/ images/);
  });
});
