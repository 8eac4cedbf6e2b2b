import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { deriveKeyedToken } from '../../mlock/keyed.js';
import { changeCells, coverPart, drawNearMiss, lookAlike, scaleBrightness, shifts, type NearMissKind } from '../../mlock/near-miss.js';
import type { Token } from '../../mlock/tokens.js';

/** Cells whose colour (all channels) differ between two tokens of one geometry. */
function distance(a: Token, b: Token): number {
  const n = a.h * a.w;
  let d = 0;
  for (let i = 0; i < n; i++) {
    let differs = a.mask[i] !== b.mask[i];
    for (let ch = 0; ch < a.c; ch++) differs ||= a.pixels[ch * n + i] !== b.pixels[ch * n + i];
    if (differs) d++;
  }
  return d;
}

describe('near-miss forgeries', () => {
  it('changeCells changes exactly k cells, to values of the same levels', async () => {
    const rng = new Rng(1);
    for (const [channels, levels] of [
      [1, 3],
      [3, 3],
      [1, 2],
    ] as const) {
      const { token } = await deriveKeyedToken('near', { channels, levels, H: 32, W: 32 });
      const allowed = new Set(levels === 3 ? [0, 128, 255] : [0, 255]);
      for (let k = 0; k <= token.h * token.w; k += 3) {
        const v = changeCells(token, k, rng, levels);
        expect(distance(token, v), `c=${channels} levels=${levels} k=${k}`).toBe(k);
        expect(Array.from(v.pixels).every((p) => allowed.has(p))).toBe(true);
      }
    }
    const { token } = await deriveKeyedToken('near', { channels: 1, H: 28, W: 28, size: 6 });
    expect(() => changeCells(token, 37, rng, 3)).toThrow(/k must be an integer in \[0, 36\]/);
  });

  it('scaleBrightness scales and clips; coverPart covers a rectangle either way; look-alikes share the geometry', async () => {
    const { token } = await deriveKeyedToken('bright', { channels: 1, H: 28, W: 28, size: 6, levels: 3 });
    const dim = scaleBrightness(token, 0.5);
    token.pixels.forEach((p, i) => expect(dim.pixels[i]).toBe(Math.round(p * 0.5)));
    const bright = scaleBrightness(token, 3);
    token.pixels.forEach((p, i) => expect(bright.pixels[i]).toBe(Math.min(255, p * 3)));
    const rng = new Rng(2);
    const peeled = coverPart(token, 0.5, rng, 'unpainted');
    const off = Array.from(peeled.mask).filter((m) => m === 0).length;
    expect(off).toBeGreaterThan(0);
    expect(off).toBeLessThan(36);
    const blacked = coverPart(token, 0.5, rng, 'black');
    expect(Array.from(blacked.mask).every((m) => m === 1)).toBe(true);
    expect(distance(token, blacked)).toBeGreaterThan(0);
    const look = lookAlike(token, rng, 3);
    expect([look.h, look.w, look.c]).toEqual([6, 6, 1]);
    expect(distance(token, look)).toBeGreaterThan(12); // a fresh pattern differs in about 2/3 of the cells
  });

  it('shifts lists every in-image offset up to the radius, never zero', () => {
    const t = { name: 't', h: 6, w: 6, c: 1, pixels: new Uint8Array(36), mask: new Uint8Array(36).fill(1) };
    expect(shifts(t, 5, 5, 2, 28, 28)).toHaveLength(24);
    const corner = shifts(t, 0, 0, 1, 28, 28);
    expect(corner).toEqual([
      { dy: 0, dx: 1 },
      { dy: 1, dx: 0 },
      { dy: 1, dx: 1 },
    ]);
  });

  it('drawNearMiss draws every kind, and never the real token at the real place', async () => {
    const { token, position } = await deriveKeyedToken('mix', { channels: 1, H: 28, W: 28 });
    const real = { token, ...position! };
    const rng = new Rng(3);
    const kinds = new Map<NearMissKind, number>();
    for (let i = 0; i < 3000; i++) {
      const s = drawNearMiss(real, { H: 28, W: 28, rng, levels: 3 });
      kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
      const samePlace = s.y === real.y && s.x === real.x;
      expect(samePlace && s.token.h === token.h && distance(s.token, token) === 0, `draw ${i} (${s.kind}) is the real stamp`).toBe(false);
      expect(s.y >= 0 && s.x >= 0 && s.y + s.token.h <= 28 && s.x + s.token.w <= 28).toBe(true);
    }
    expect([...kinds.keys()].sort()).toEqual(['brightness', 'cells', 'cover', 'far', 'look-alike-near', 'other-key', 'shift']);
  });
});
