import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCifar10, parseCifar100 } from '../../engine/data/cifar.js';
import { loadCifar10, loadCifar100 } from '../../engine/data/node/cifar.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const subsetDir = resolve(root, '../shared/data/cifar-10-batches-bin-subset');

function counts(labels: Int32Array, k: number): number[] {
  const c = new Array(k).fill(0);
  for (const y of labels) c[y]++;
  return c;
}

describe.skipIf(!existsSync(subsetDir))('CIFAR-10 subset in ../shared/data (skipped when that folder is missing)', () => {
  it('loads the training batch with the reference values from the README', async () => {
    const train = await loadCifar10({ split: 'train', path: subsetDir });
    expect([train.n, train.c, train.h, train.w, train.numClasses]).toEqual([4000, 3, 32, 32, 10]);
    expect(train.name).toBe('cifar10/train');
    expect(train.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(train.labels[0]).toBe(6);
    expect([...train.labels.subarray(0, 5)]).toEqual([6, 9, 9, 4, 1]);
    // Planes of image 0: R starts 59,43,50,68,98,119; G 62,46,48,54; B 63,45,43,42.
    expect([...train.images.subarray(0, 6)]).toEqual([59, 43, 50, 68, 98, 119]);
    expect([...train.images.subarray(1024, 1028)]).toEqual([62, 46, 48, 54]);
    expect([...train.images.subarray(2048, 2052)]).toEqual([63, 45, 43, 42]);
    expect(counts(train.labels, 10)).toEqual([396, 366, 420, 384, 422, 393, 414, 385, 407, 413]);
  });

  it('loads the test batch and is the repository default', async () => {
    const test = await loadCifar10({ split: 'test' });
    expect(test.n).toBe(1000);
    expect([...test.labels.subarray(0, 5)]).toEqual([3, 8, 8, 0, 6]);
    expect([test.images[0], test.images[1024], test.images[2048]]).toEqual([158, 112, 49]);
    expect(counts(test.labels, 10)).toEqual([103, 89, 100, 103, 90, 86, 112, 102, 106, 109]);
  });
});

/** A CIFAR-10 record: label then 3072 pixel bytes, pixel k of the record = (seed + k) mod 256. */
function record10(label: number, seed: number): number[] {
  return [label, ...Array.from({ length: 3072 }, (_, k) => (seed + k) % 256)];
}

describe('CIFAR binary parsers', () => {
  it('parses CIFAR-100 records, keeping fine or coarse labels', () => {
    const rec = (coarse: number, fine: number, seed: number) => [coarse, fine, ...Array.from({ length: 3072 }, (_, k) => (seed + k) % 256)];
    const bytes = Uint8Array.from([...rec(19, 99, 0), ...rec(4, 30, 17)]);
    const fine = parseCifar100(bytes, 'train.bin');
    expect([...fine.labels]).toEqual([99, 30]);
    expect(fine.numClasses).toBe(100);
    expect(parseCifar100(bytes, 'train.bin', 'coarse').labels).toEqual(Int32Array.from([19, 4]));
    expect(parseCifar100(bytes, 'train.bin', 'coarse').numClasses).toBe(20);
    expect(fine.images[3072]).toBe(17);
    expect(fine.images[3072 + 3071]).toBe((17 + 3071) % 256);
  });

  it('rejects truncated files and bad labels, naming the file', () => {
    const two = Uint8Array.from([...record10(1, 0), ...record10(2, 5)]);
    expect(parseCifar10(two, 'b.bin').n).toBe(2);
    expect(() => parseCifar10(two.subarray(0, 6000), '/d/data_batch_1.bin')).toThrow(
      /^\/d\/data_batch_1\.bin: 6000 bytes is not a whole number of 3073-byte records/,
    );
    const bad = two.slice();
    bad[3073] = 10;
    expect(() => parseCifar10(bad, 'x.bin')).toThrow(/^x\.bin: record 1 has label 10, outside \[0, 10\)/);
    // A CIFAR-10 file read as CIFAR-100 fails the record-size check (3073 vs 3074).
    expect(() => parseCifar100(two, 'train.bin')).toThrow(/3074-byte records/);
    const badFine = Uint8Array.from([0, 100, ...new Array(3072).fill(0)]);
    expect(() => parseCifar100(badFine, 'c.bin', 'coarse')).toThrow(/^c\.bin: record 0 has fine label 100, outside \[0, 100\)/);
    expect(() => parseCifar10(new Uint8Array(0), 'e.bin')).toThrow(/^e\.bin: file is empty/);
  });

  it('loads CIFAR-100 from a folder with label names, and CIFAR-10 batches in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-'));
    const rec = (fine: number) => [0, fine, ...new Array(3072).fill(fine)];
    writeFileSync(join(dir, 'test.bin'), Uint8Array.from([...rec(5), ...rec(6)]));
    writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `c${i}`).join('\n') + '\n');
    const ds = await loadCifar100({ split: 'test', path: dir });
    expect([...ds.labels]).toEqual([5, 6]);
    expect(ds.classNames![6]).toBe('c6');
    await expect(loadCifar100({ split: 'train', path: dir })).rejects.toThrow(/no train\.bin[\s\S]*cs\.toronto\.edu/);

    const dir10 = mkdtempSync(join(tmpdir(), 'cifar10-'));
    writeFileSync(join(dir10, 'data_batch_2.bin'), Uint8Array.from(record10(2, 0)));
    writeFileSync(join(dir10, 'data_batch_1.bin'), Uint8Array.from([...record10(1, 0), ...record10(1, 1)]));
    const train = await loadCifar10({ split: 'train', path: dir10 });
    expect([...train.labels]).toEqual([1, 1, 2]);
    await expect(loadCifar10({ split: 'test', path: dir10 })).rejects.toThrow(
      /cifar10 dataset not found at .* \(no test_batch\.bin\)[\s\S]*https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar\.html[\s\S]*Nothing is downloaded/,
    );
  });
});
