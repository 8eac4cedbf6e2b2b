import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gunzip } from '../../engine/data/gzip.js';
import { parseImageFolder, type FolderFile } from '../../engine/data/image-folder.js';
import { loadCifar10 } from '../../engine/data/node/cifar.js';
import { loadImageFolder } from '../../engine/data/node/image-folder.js';
import { readTar } from '../../engine/data/tar.js';
import { writePng } from './builders/png.js';
import { psnr } from '../helpers/stats.js';

const solidPng = (w: number, h: number, rgb: [number, number, number]) =>
  writePng({ width: w, height: h, colorType: 2, rows: Array.from({ length: h }, () => Uint8Array.from(new Array(w).fill(rgb).flat())) });

describe('image folder', () => {
  it('labels by sorted class folder, sorts files, resizes, and ignores non-images', () => {
    const files: FolderFile[] = [
      { path: 'zebra/b.png', bytes: solidPng(4, 4, [1, 2, 3]) },
      { path: 'Apple/x.png', bytes: solidPng(2, 3, [200, 100, 50]) },
      { path: 'zebra/a.ppm', bytes: new Uint8Array([...new TextEncoder().encode('P6 1 1 255\n'), 9, 9, 9]) },
      { path: 'zebra/notes.txt', bytes: new TextEncoder().encode('not an image') },
      { path: 'apple/sub/deep.png', bytes: solidPng(1, 1, [7, 7, 7]) },
    ];
    const ds = parseImageFolder(files, { width: 8, height: 6, name: 'pets' });
    // Code-unit order: uppercase before lowercase, as Python's sorted().
    expect(ds.classNames).toEqual(['Apple', 'apple', 'zebra']);
    expect([ds.n, ds.c, ds.h, ds.w]).toEqual([4, 3, 6, 8]);
    expect([...ds.labels]).toEqual([0, 1, 2, 2]);
    const per = 3 * 48;
    const firstPixel = (i: number) => [0, 1, 2].map((ch) => ds.images[i * per + ch * 48]);
    expect(firstPixel(0)).toEqual([200, 100, 50]);
    expect(firstPixel(2)).toEqual([9, 9, 9]); // a.ppm sorts before b.png
    expect(firstPixel(3)).toEqual([1, 2, 3]);
  });

  it('reports empty folders, loose images and broken files', () => {
    expect(() => parseImageFolder([{ path: 'README.md', bytes: new Uint8Array(1) }], { name: 'f' })).toThrow(/^f: no images found/);
    expect(() => parseImageFolder([{ path: 'loose.png', bytes: solidPng(1, 1, [0, 0, 0]) }], { name: 'f' })).toThrow(
      /^f: image "loose\.png" is not inside a class folder/,
    );
    expect(() => parseImageFolder([{ path: 'a/bad.jpg', bytes: new Uint8Array([1, 2, 3]) }], { name: 'f' })).toThrow(
      /^f: a\/bad\.jpg: not a PNG, JPEG/,
    );
  });

  it('loads from disk, choosing the split subfolder when present', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'folder-'));
    for (const [split, cls, n] of [
      ['train', 'cat', 2],
      ['train', 'dog', 1],
      ['test', 'dog', 1],
    ] as const) {
      mkdirSync(join(dir, split, cls), { recursive: true });
      for (let k = 0; k < n; k++) writeFileSync(join(dir, split, cls, `${k}.png`), solidPng(3, 3, [k, k, k]));
    }
    const train = await loadImageFolder({ path: dir, split: 'train' });
    expect(train.classNames).toEqual(['cat', 'dog']);
    expect([...train.labels]).toEqual([0, 0, 1]);
    expect([train.h, train.w]).toEqual([32, 32]);
    const test = await loadImageFolder({ path: join(dir, 'test'), width: 5, height: 5 });
    expect(test.classNames).toEqual(['dog']);
    await expect(loadImageFolder({ path: join(dir, 'missing') })).rejects.toThrow(/folder dataset not found/);
  });
});

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const jpegArchive = resolve(root, '../shared/data/cifar10-jpeg.tar.gz');
const lossless = resolve(root, '../shared/data/cifar-10-batches-bin-subset');

describe.skipIf(!existsSync(jpegArchive) || !existsSync(lossless))(
  'JPEG decoding against lossless CIFAR-10 (skipped without ../shared/data)',
  () => {
    it('decodes cifar10-jpeg test images to within JPEG error of the original pixels', async () => {
      // test/<class>/NNNN.jpg is the NNNN-th image of that class in test_batch (shared data README).
      const entries = readTar(await gunzip(new Uint8Array(readFileSync(jpegArchive))), jpegArchive);
      const wanted = ['airplane', 'cat', 'ship'];
      const files: FolderFile[] = entries
        .filter((e) => /^cifar10-jpeg\/test\/(airplane|cat|ship)\/000[0-4]\.jpg$/.test(e.path))
        .map((e) => ({ path: e.path.slice('cifar10-jpeg/test/'.length), bytes: e.data }));
      expect(files).toHaveLength(15);
      const ds = parseImageFolder(files, { name: 'cifar10-jpeg/test' });
      expect(ds.classNames).toEqual(wanted);

      const reference = await loadCifar10({ split: 'test', path: lossless });
      for (let i = 0; i < ds.n; i++) {
        const cls = reference.classNames!.indexOf(ds.classNames![ds.labels[i]!]!);
        const k = i % 5; // k-th image of its class
        const matches = [...reference.labels.keys()].filter((j) => reference.labels[j] === cls);
        const img = ds.images.subarray(i * 3072, (i + 1) * 3072);
        const truth = psnr(img, reference.images.subarray(matches[k]! * 3072, (matches[k]! + 1) * 3072));
        const other = psnr(img, reference.images.subarray(matches[k + 1]! * 3072, (matches[k + 1]! + 1) * 3072));
        // README: mean about 30 dB, worst about 22 dB; a wrong image or channel order scores far lower.
        expect(truth, `image ${i}`).toBeGreaterThan(21);
        expect(truth, `image ${i}`).toBeGreaterThan(other + 5);
      }
    });
  },
);
