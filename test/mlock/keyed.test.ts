import { describe, expect, it } from 'vitest';
import { deriveKeyedToken, keySpaceBits, levelValue, tokenFingerprint, tokenGeometry, wipe } from '../../mlock/keyed.js';
import { resolveToken, tokenForModel } from '../../mlock/token-spec.js';
import { makeToken, tokensEqual, type Token } from '../../mlock/tokens.js';

const grey = { channels: 1, H: 28, W: 28 } as const;
const rgb = { channels: 3, H: 32, W: 32 } as const;

describe('deriveKeyedToken (v2: keyed levels and keyed position)', () => {
  it('is deterministic per key, and string keys equal their UTF-8 bytes', async () => {
    const a = await deriveKeyedToken('correct horse battery staple', rgb);
    const b = await deriveKeyedToken('correct horse battery staple', rgb);
    const c = await deriveKeyedToken(new TextEncoder().encode('correct horse battery staple'), rgb);
    expect(a).toEqual(b);
    expect(a).toEqual(c);
  });

  it('uses only the declared levels, fills the whole patch, and keeps key material out of the name', async () => {
    for (const levels of [2, 3, 5]) {
      const allowed = new Set(Array.from({ length: levels }, (_, k) => levelValue(k, levels)));
      const { token } = await deriveKeyedToken('levels', { ...grey, size: 5, levels });
      expect([token.h, token.w, token.c]).toEqual([5, 5, 1]);
      expect(Array.from(token.mask)).toEqual(new Array(25).fill(1));
      expect(Array.from(token.pixels).every((v) => allowed.has(v))).toBe(true);
      expect(token.name).toBe('keyed-5x5');
    }
    expect([0, 1, 2].map((k) => levelValue(k, 3))).toEqual([0, 128, 255]);
  });

  it('200 keys give 200 different tokens and places spread over the image', async () => {
    const tokens: Token[] = [];
    const ys = new Set<number>();
    const xs = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const { token, position } = await deriveKeyedToken(`key-${k}`, grey);
      tokens.push(token);
      // Inside the 1-pixel margin on every side.
      expect(position!.y).toBeGreaterThanOrEqual(1);
      expect(position!.x).toBeGreaterThanOrEqual(1);
      expect(position!.y + token.h).toBeLessThanOrEqual(27);
      expect(position!.x + token.w).toBeLessThanOrEqual(27);
      ys.add(position!.y);
      xs.add(position!.x);
    }
    for (let i = 0; i < tokens.length; i++) {
      for (let j = i + 1; j < tokens.length; j++) expect(tokensEqual(tokens[i]!, tokens[j]!), `keys ${i} and ${j}`).toBe(false);
    }
    // 19 possible rows and columns (28 - 2 - 8 + 1): 200 uniform draws miss any one with probability (18/19)^200 < 1e-4.
    expect(ys.size).toBe(19);
    expect(xs.size).toBe(19);
  });

  it('cell values look unbiased across keys (chi-square over 300 keys, 3 levels, 36 cells)', async () => {
    const counts = [0, 0, 0];
    for (let k = 0; k < 300; k++) {
      const { token } = await deriveKeyedToken(`bias-${k}`, { ...grey, size: 6, levels: 3 });
      for (const v of token.pixels) counts[v === 0 ? 0 : v === 128 ? 1 : 2]!++;
    }
    const expected = (300 * 36) / 3;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 2 degrees of freedom: P(chi2 > 13.8) = 0.001.
    expect(chi2).toBeLessThan(13.8);
  });

  it('unrelated tokens for the same key under another geometry', async () => {
    const a = await deriveKeyedToken('same key', { ...grey, size: 4 });
    const b = await deriveKeyedToken('same key', { ...grey, size: 4, keyedPosition: false });
    const c = await deriveKeyedToken('same key', { ...grey, size: 4, levels: 3 });
    expect(tokensEqual(a.token, b.token)).toBe(false);
    expect(tokensEqual(a.token, c.token)).toBe(false);
    expect(b.position).toBeUndefined();
  });

  it('counts its key space: at least 64 bits with the defaults on greyscale and RGB', async () => {
    expect(keySpaceBits({ size: 6, channels: 1, levels: 3, keyedPosition: true, H: 28, W: 28 })).toBeCloseTo(
      36 * Math.log2(3) + Math.log2(21 * 21),
      9,
    );
    expect(keySpaceBits({ size: 8, channels: 1, levels: 2, keyedPosition: true, H: 28, W: 28 })).toBeCloseTo(64 + Math.log2(19 * 19), 9);
    const g = await resolveToken({ key: 'k' }, 1, 28, 28);
    const c = await resolveToken({ key: 'k' }, 3, 32, 32);
    expect(g.keySpaceBits).toBeGreaterThanOrEqual(64);
    expect(c.keySpaceBits).toBeGreaterThanOrEqual(64);
    expect(g.placement.mode).toBe('at');
  });

  it('rejects bad input clearly', async () => {
    await expect(deriveKeyedToken('', grey)).rejects.toThrow(/key must not be empty/);
    await expect(deriveKeyedToken(new Uint8Array(0), grey)).rejects.toThrow(/key must not be empty/);
    await expect(deriveKeyedToken(42 as never, grey)).rejects.toThrow(/string or a Uint8Array/);
    await expect(deriveKeyedToken('k', { ...grey, size: 1 })).rejects.toThrow(/size must be an integer >= 2/);
    await expect(deriveKeyedToken('k', { ...grey, channels: 4 })).rejects.toThrow(/channels must be 1 or 3/);
    await expect(deriveKeyedToken('k', { ...grey, levels: 1 })).rejects.toThrow(/levels/);
    await expect(deriveKeyedToken('k', { ...grey, size: 27 })).rejects.toThrow(/does not fit in a 28x28 image/);
    await expect(deriveKeyedToken('k', { ...grey, H: 0 })).rejects.toThrow(/image size/);
  });

  it('does not modify a Uint8Array key it is given', async () => {
    const key = new TextEncoder().encode('keep me');
    const copy = key.slice();
    await deriveKeyedToken(key, grey);
    expect(key).toEqual(copy);
  });
});

describe('stored geometry', () => {
  it('holds no key, pixels or position, and reopening with the key gives the training token and place', async () => {
    const resolved = await resolveToken({ key: 'the owner key' }, 1, 28, 28);
    const g = tokenGeometry(resolved.token, resolved.placement, resolved.levels);
    expect(g).toEqual({
      version: 2,
      h: 8,
      w: 8,
      c: 1,
      levels: 2,
      placement: { mode: 'secret' },
      fingerprint: tokenFingerprint(resolved.token),
    });
    const text = JSON.stringify(g);
    expect(text).not.toContain('owner');
    const reopened = await tokenForModel('the owner key', g, [1, 28, 28]);
    expect(tokensEqual(reopened.token, resolved.token)).toBe(true);
    expect(reopened.placement).toEqual(resolved.placement);
    const other = await tokenForModel('another key', g, [1, 28, 28]);
    expect(tokensEqual(other.token, resolved.token)).toBe(false);
  });

  it('public placements are stored as they are; an old geometry version is refused with a clear message', async () => {
    expect(tokenGeometry(makeToken('dot', 1), { mode: 'fixed' }).placement).toEqual({ mode: 'fixed', margin: 1 });
    expect(tokenGeometry(makeToken('dot', 1), { mode: 'random' }).placement).toEqual({ mode: 'random' });
    expect(JSON.stringify(tokenGeometry(makeToken('five-dice', 1), { mode: 'fixed', margin: 2 }))).not.toContain('five');
    expect(() => tokenGeometry(makeToken('dot', 1), { mode: 'fixed', margin: 0.5 })).toThrow(/margin/);
    const old = { version: 1, h: 4, w: 4, c: 1, placement: { mode: 'fixed', margin: 1 }, fingerprint: 'x' } as never;
    await expect(tokenForModel('k', old, [1, 28, 28])).rejects.toThrow(/version 1 is not supported/);
  });
});

describe('wipe', () => {
  it('zero-fills in place', () => {
    const b = new Uint8Array([1, 2, 3]);
    wipe(b);
    expect(Array.from(b)).toEqual([0, 0, 0]);
  });
});
