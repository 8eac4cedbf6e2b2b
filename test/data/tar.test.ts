import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTar, tarIndex } from '../../engine/data/tar.js';
import { paxRecord, writeTar } from './builders/tar.js';

function hasGnuTar(): boolean {
  try {
    return execFileSync('tar', ['--version']).toString().includes('GNU tar');
  } catch {
    return false;
  }
}

describe('tar reader', () => {
  it('returns regular files, skipping the pax global header and directories', () => {
    const big = Uint8Array.from({ length: 1300 }, (_, i) => i % 256);
    const tar = writeTar([
      { path: 'pax_global_header', type: 'g', data: paxRecord('comment', 'abc123') },
      { path: 'GTSRB/', type: '5' },
      { path: 'GTSRB/a.txt', data: 'hello' },
      { path: 'GTSRB/empty', data: '' },
      { path: './GTSRB/big.bin', data: big },
    ]);
    const entries = readTar(tar, 't.tar');
    expect(entries.map((e) => e.path)).toEqual(['GTSRB/a.txt', 'GTSRB/empty', 'GTSRB/big.bin']);
    const idx = tarIndex(entries);
    expect(new TextDecoder().decode(idx.get('GTSRB/a.txt'))).toBe('hello');
    expect(idx.get('GTSRB/empty')!.length).toBe(0);
    expect(Buffer.from(idx.get('GTSRB/big.bin')!).equals(big)).toBe(true);
  });

  it('applies a pax extended header path to the next entry only', () => {
    const long = `${'d'.repeat(120)}/file.txt`;
    const tar = writeTar([
      { path: 'PaxHeaders/x', type: 'x', data: paxRecord('path', long) + paxRecord('mtime', '1.5') },
      { path: 'truncated-name', data: 'A' },
      { path: 'next', data: 'B' },
    ]);
    expect(readTar(tar, 'p.tar').map((e) => e.path)).toEqual([long, 'next']);
  });

  it('tolerates a missing end-of-archive marker but not truncated data or a bad checksum', () => {
    const tar = writeTar([{ path: 'f', data: 'x'.repeat(600) }], { endBlocks: 0 });
    expect(readTar(tar, 'n.tar')).toHaveLength(1);
    expect(() => readTar(tar.subarray(0, 1000), '/d/n.tar')).toThrow(
      /^\/d\/n\.tar: truncated archive: entry "f" needs 600 bytes, only 488 remain/,
    );
    const bad = tar.slice();
    bad[0]! ^= 1;
    expect(() => readTar(bad, 'c.tar')).toThrow(/^c\.tar: tar entry at byte 0: header checksum mismatch/);
    expect(() => readTar(new Uint8Array(512).fill(65), 'z.tar')).toThrow(/not a tar archive or corrupt/);
  });

  it.skipIf(!hasGnuTar())('reads archives written by GNU tar in ustar, pax and gnu formats', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-'));
    const src = join(dir, 'src');
    const deep = join(src, 'a'.repeat(60), 'b'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(src, 'small.txt'), 'small');
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) % 256);
    writeFileSync(join(deep, 'c'.repeat(60) + '.bin'), payload);
    const longPath = `src/${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(60)}.bin`;
    // The 190-character path needs the ustar prefix field, a pax 'x' header and a GNU 'L' entry respectively.
    for (const format of ['ustar', 'pax', 'gnu']) {
      const out = join(dir, `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-cf', out, '-C', dir, 'src']);
      const files = tarIndex(readTar(new Uint8Array(readFileSync(out)), out));
      expect([...files.keys()].sort(), format).toEqual([longPath, 'src/small.txt'].sort());
      expect(Buffer.from(files.get(longPath)!).equals(payload), format).toBe(true);
      expect(new TextDecoder().decode(files.get('src/small.txt')), format).toBe('small');
    }
  });
});
