import { gzipSync, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzip, inflateZlib, isGzip } from '../../engine/data/gzip.js';

// node:zlib (zlib itself) is the independent reference encoder.
const payload = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);

describe('gzip', () => {
  it('round-trips data compressed by zlib', async () => {
    const gz = gzipSync(payload);
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(payload)).toBe(false);
    // Buffer.equals compares bytes directly; deep equality on 100k elements is needlessly slow.
    expect(Buffer.from(await gunzip(gz)).equals(payload)).toBe(true);
    expect(Buffer.from(await inflateZlib(deflateSync(payload))).equals(payload)).toBe(true);
  });

  it('reports truncated and non-gzip input with the source name', async () => {
    const gz = gzipSync(payload);
    await expect(gunzip(gz.subarray(0, gz.length - 10), 'x.gz')).rejects.toThrow(/^x\.gz: corrupt or truncated gzip data/);
    await expect(gunzip(payload, 'y.gz')).rejects.toThrow(/^y\.gz: not gzip data/);
  });
});
