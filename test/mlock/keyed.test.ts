import { describe, expect, it } from 'vitest';
import { deriveKeyedToken, tokenFingerprint, tokenGeometry, wipe } from '../../mlock/keyed.js';
import { PAPER_TOKEN_NAMES, makeToken, tokensEqual, type Token } from '../../mlock/tokens.js';

const base = { channels: 3, H: 32, W: 32 } as const;

function onCount(t: Token): number {
  let on = 0;
  for (let i = 0; i < t.h * t.w; i++) if (t.pixels[i]! > 0) on++;
  return on;
}

describe('deriveKeyedToken', () => {
  it('is deterministic per key, and string keys equal their UTF-8 bytes', async () => {
    const a = await deriveKeyedToken('correct horse battery staple', { ...base, keyedColours: true, keyedPosition: true });
    const b = await deriveKeyedToken('correct horse battery staple', { ...base, keyedColours: true, keyedPosition: true });
    const c = await deriveKeyedToken(new TextEncoder().encode('correct horse battery staple'), { ...base, keyedColours: true, keyedPosition: true });
    expect(a).toEqual(b);
    expect(a).toEqual(c);
  });

  it('gives 100 different tokens for 100 keys, all balanced and none a paper pattern', async () => {
    const paper3 = PAPER_TOKEN_NAMES.map((n) => makeToken(n, 1));
    for (const size of [3, 4]) {
      const seen = new Set<string>();
      for (let k = 0; k < 100; k++) {
        const { token } = await deriveKeyedToken(`key-${k}`, { size, channels: 1, H: 28, W: 28 });
        expect([token.h, token.w, token.c]).toEqual([size, size, 1]);
        expect(Array.from(token.mask)).toEqual(new Array(size * size).fill(1));
        expect(Array.from(token.pixels).every((v) => v === 0 || v === 255)).toBe(true);
        const on = onCount(token);
        expect(on).toBeGreaterThanOrEqual(Math.ceil((size * size) / 3));
        expect(on).toBeLessThanOrEqual(Math.floor((2 * size * size) / 3));
        for (const p of paper3) expect(tokensEqual(token, p)).toBe(false);
        expect(token.name).toBe(`keyed-${size}x${size}`); // nothing key-dependent in the name
        seen.add(Array.from(token.pixels).join(','));
      }
      // White patterns live in a small space, so birthday collisions are expected and allowed:
      // 4x4 has 51,766 balanced patterns (~0.1 colliding pairs expected among 100 keys), 3x3 only
      // 416 (~89 distinct expected). Far fewer distinct would mean the key barely matters.
      expect(seen.size).toBeGreaterThanOrEqual(size === 4 ? 98 : 75);
    }
  });

  it('gives 100 pairwise different tokens for 100 keys with keyed colours', async () => {
    // With colours the space is ~2^(16 + 7*3*8) per token, so any collision means a broken derivation.
    const tokens: Token[] = [];
    for (let k = 0; k < 100; k++) tokens.push((await deriveKeyedToken(`key-${k}`, { ...base, keyedColours: true })).token);
    for (let i = 0; i < tokens.length; i++) {
      for (let j = i + 1; j < tokens.length; j++) expect(tokensEqual(tokens[i]!, tokens[j]!), `keys ${i} and ${j}`).toBe(false);
    }
  });

  it('cells look unbiased across keys (each cell on about half the time)', async () => {
    const counts = new Array(16).fill(0);
    const keys = 200;
    for (let k = 0; k < keys; k++) {
      const { token } = await deriveKeyedToken(`bias-${k}`, { channels: 1, H: 16, W: 16 });
      for (let i = 0; i < 16; i++) if (token.pixels[i]) counts[i]++;
    }
    // Binomial(200, 0.5): sd ~7.1; 4 sd is ~28.
    for (const c of counts) expect(Math.abs(c - keys / 2)).toBeLessThan(4 * Math.sqrt(keys / 4));
  });

  it('keyed colours: on cells get bright key-dependent colours, off cells stay black', async () => {
    const { token } = await deriveKeyedToken('colour-key', { ...base, keyedColours: true });
    const n = 16;
    const colours = new Set<string>();
    for (let i = 0; i < n; i++) {
      const px = [token.pixels[i]!, token.pixels[n + i]!, token.pixels[2 * n + i]!];
      if (px.every((v) => v === 0)) continue;
      expect(px.every((v) => v >= 128)).toBe(true);
      colours.add(px.join(','));
    }
    expect(colours.size).toBeGreaterThan(1);
    const other = await deriveKeyedToken('colour-key-2', { ...base, keyedColours: true });
    expect(tokensEqual(token, other.token)).toBe(false);
    // The same key without keyed colours is a different (white) token: geometry is in the HMAC message.
    const white = await deriveKeyedToken('colour-key', base);
    expect(Array.from(white.token.pixels).every((v) => v === 0 || v === 255)).toBe(true);
  });

  it('keyed positions stay inside the image clear of the 1-pixel margin and vary by key', async () => {
    const H = 20;
    const W = 24;
    const size = 4;
    const ys = new Set<number>();
    const xs = new Set<number>();
    for (let k = 0; k < 100; k++) {
      const { position } = await deriveKeyedToken(`pos-${k}`, { size, channels: 1, keyedPosition: true, H, W });
      expect(position).toBeDefined();
      const { y, x } = position!;
      expect(y).toBeGreaterThanOrEqual(1);
      expect(x).toBeGreaterThanOrEqual(1);
      expect(y + size).toBeLessThanOrEqual(H - 1);
      expect(x + size).toBeLessThanOrEqual(W - 1);
      ys.add(y);
      xs.add(x);
    }
    expect(ys.size).toBeGreaterThan(8);
    expect(xs.size).toBeGreaterThan(10);
    const none = await deriveKeyedToken('pos-0', { size, channels: 1, H, W });
    expect(none.position).toBeUndefined();
  });

  it('rejects bad input clearly', async () => {
    await expect(deriveKeyedToken('', base)).rejects.toThrow(/key must not be empty/);
    await expect(deriveKeyedToken(new Uint8Array(0), base)).rejects.toThrow(/key must not be empty/);
    await expect(deriveKeyedToken(42 as never, base)).rejects.toThrow(/string or a Uint8Array/);
    await expect(deriveKeyedToken('k', { ...base, size: 1 })).rejects.toThrow(/size must be an integer >= 2/);
    await expect(deriveKeyedToken('k', { ...base, channels: 4 })).rejects.toThrow(/channels must be 1 or 3/);
    await expect(deriveKeyedToken('k', { ...base, size: 31 })).rejects.toThrow(/does not fit in a 32x32 image/);
    await expect(deriveKeyedToken('k', { ...base, H: 0 })).rejects.toThrow(/image size/);
  });

  it('does not wipe or change a caller-owned key', async () => {
    const key = Uint8Array.from([1, 2, 3, 4, 5]);
    await deriveKeyedToken(key, base);
    expect(Array.from(key)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('metadata and key hygiene', () => {
  it('fingerprint depends on geometry only, never on the key or pixels', async () => {
    const a = await deriveKeyedToken('alpha', base);
    const b = await deriveKeyedToken('beta', base);
    expect(tokensEqual(a.token, b.token)).toBe(false);
    expect(tokenFingerprint(a.token)).toBe(tokenFingerprint(b.token));
    expect(tokenFingerprint(a.token)).toMatch(/^[0-9a-f]{8}$/);
    const grey = await deriveKeyedToken('alpha', { ...base, channels: 1 });
    expect(tokenFingerprint(grey.token)).not.toBe(tokenFingerprint(a.token));
    expect(tokenFingerprint(makeToken('diagonal', 3))).toBe(tokenFingerprint(makeToken('five-dice', 3)));
  });

  it('geometry holds size, channels and placement but no key, name, pixels or secret position', async () => {
    const secret = 'my-very-secret-key';
    const { token, position } = await deriveKeyedToken(secret, { ...base, keyedPosition: true });
    const g = tokenGeometry(token, { mode: 'at', ...position! });
    expect(g).toEqual({ version: 1, h: 4, w: 4, c: 3, placement: { mode: 'secret' }, fingerprint: tokenFingerprint(token) });
    const json = JSON.stringify(g);
    expect(json).not.toContain(secret);
    expect(json).not.toContain('pixels');
    expect(json).not.toContain('keyed-');
    expect(tokenGeometry(makeToken('dot', 1), { mode: 'fixed' }).placement).toEqual({ mode: 'fixed', margin: 1 });
    expect(tokenGeometry(makeToken('dot', 1), { mode: 'random' }).placement).toEqual({ mode: 'random' });
    expect(JSON.stringify(tokenGeometry(makeToken('five-dice', 1), { mode: 'fixed', margin: 2 }))).not.toContain('five');
    expect(() => tokenGeometry(token, { mode: 'fixed', margin: 0.5 })).toThrow(/margin/);
  });

  it('wipe zero-fills the bytes in place', () => {
    const key = new TextEncoder().encode('secret');
    const view = key.subarray(2);
    wipe(key);
    expect(Array.from(key)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(view)).toEqual([0, 0, 0, 0]);
  });
});
