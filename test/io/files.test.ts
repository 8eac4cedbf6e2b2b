import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileChecked, writeFileAtomic } from '../../engine/io/node/files.js';

describe('writeFileAtomic', () => {
  it('writes and replaces files, leaving no temporary files behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const path = join(dir, 'ckpt.safetensors');
    await writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, 'replaced');
    expect(readFileSync(path, 'utf8')).toBe('replaced');
    expect(readdirSync(dir)).toEqual(['ckpt.safetensors']);
  });

  it('cleans up its temporary file when the final rename fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    // The target is a non-empty directory: the temp file is written and synced, then rename fails.
    const target = join(dir, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow(/^cannot write .*target: /);
    expect(readdirSync(dir)).toEqual(['target']);
    await expect(writeFileAtomic(join(dir, 'missing-dir', 'f'), 'data')).rejects.toThrow(/^cannot write .*missing-dir\/f: .*ENOENT/);
  });

  // Root ignores directory permissions, so this case can only be checked as an ordinary user.
  it.skipIf(process.getuid?.() === 0)('reports an unwritable directory without touching the target (skipped as root)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    chmodSync(dir, 0o555);
    try {
      await expect(writeFileAtomic(path, 'new')).rejects.toThrow(/^cannot write .*keep\.txt: .*EACCES/);
    } finally {
      chmodSync(dir, 0o755);
    }
    expect(readFileSync(path, 'utf8')).toBe('old');
  });
});

describe('readFileChecked', () => {
  it('reads files and explains failures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'read-'));
    writeFileSync(join(dir, 'a'), 'abc');
    expect([...(await readFileChecked(join(dir, 'a')))]).toEqual([97, 98, 99]);
    await expect(readFileChecked(join(dir, 'nope'), { what: 'checkpoint', hint: 'Train first.' })).rejects.toThrow(
      /^checkpoint not found: .*nope\nTrain first\.$/,
    );
    await expect(readFileChecked(dir)).rejects.toThrow(/is a directory, expected a file/);
  });
});
