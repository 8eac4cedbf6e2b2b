import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { deriveKeyedToken } from '../../mlock/keyed.js';
import {
  changeCells,
  coverPart,
  drawNearMiss,
  lookAlike,
  placeBackground,
  scaleBrightness,
  shifts,
  shownDistance,
  transformedTokens,
  type NearMissKind,
} from '../../mlock/near-miss.js';
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

  it("other keys' tokens and the far-away real pattern go to the lock's public places when it has them", async () => {
    const { token, position } = await deriveKeyedToken('mix', { channels: 1, H: 28, W: 28 });
    const real = { token, ...position! };
    const places = [
      [1, 1],
      [1, 19],
      [19, 1],
      [19, 19],
    ] as const;
    const rng = new Rng(5);
    const seen = new Set<string>();
    for (const kind of ['other-key', 'far'] as const) {
      const mix = { cells: 0, shift: 0, brightness: 0, cover: 0, 'look-alike-near': 0, 'other-key': 0, far: 0, [kind]: 1 };
      for (let i = 0; i < 400; i++) {
        const s = drawNearMiss(real, { H: 28, W: 28, rng, levels: 2, mix, places });
        expect(s.kind).toBe(kind);
        const at = places.some(([y, x]) => y === s.y && x === s.x);
        // 'far' falls back to anywhere only when every place overlaps the real patch, which none of these does.
        expect(at, `${kind} draw ${i} at (${s.y}, ${s.x})`).toBe(true);
        seen.add(`${kind}@${s.y},${s.x}`);
      }
    }
    // Every place is reached by other keys; the far pattern avoids only the places overlapping its own patch.
    for (const [y, x] of places) expect(seen.has(`other-key@${y},${x}`)).toBe(true);
  });

  it('placeBackground is the per-pixel median at the place; shownDistance counts the cells that look changed over it', () => {
    // 5 images of 2 x 6 x 6 with known values at a 2 x 3 window at (1, 2): pixel value = 10 * image + position.
    const [n, c, H, W] = [5, 2, 6, 6];
    const images = new Uint8Array(n * c * H * W);
    const order = [3, 0, 4, 1, 2]; // medians must not depend on the images' order
    for (let i = 0; i < n; i++) for (let j = 0; j < c * H * W; j++) images[i * c * H * W + j] = (10 * order[i]! + j) % 256;
    const bg = placeBackground(images, n, c, H, W, { y: 1, x: 2 }, 2, 3);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < 2; y++)
        for (let x = 0; x < 3; x++) expect(bg[(ch * 2 + y) * 3 + x]).toBe((20 + (ch * H + 1 + y) * W + 2 + x) % 256);
    expect(() => placeBackground(images, n, c, H, W, { y: 5, x: 2 }, 2, 3)).toThrow(/outside 6x6/);

    // A black-and-white 2 x 2 token over a black background: uncovering its black cells changes nothing.
    const real: Token = { name: 'r', h: 2, w: 2, c: 1, pixels: Uint8Array.from([255, 0, 0, 255]), mask: Uint8Array.from([1, 1, 1, 1]) };
    const black = new Uint8Array(4);
    const peeled = (mask: number[]) => ({ ...real, mask: Uint8Array.from(mask) });
    expect(shownDistance(peeled([1, 0, 0, 1]), real, black)).toBe(0);
    expect(shownDistance(peeled([0, 0, 1, 1]), real, black)).toBe(1);
    expect(shownDistance(peeled([0, 1, 1, 0]), real, black)).toBe(2);
    // Over a white background the same covers show the other cells changed.
    expect(shownDistance(peeled([1, 0, 0, 1]), real, new Uint8Array(4).fill(255))).toBe(2);
    // Small value changes (within a quarter of the range) do not count; a changed colour does.
    expect(shownDistance({ ...real, pixels: Uint8Array.from([200, 40, 0, 255]) }, real, black)).toBe(0);
    expect(shownDistance({ ...real, pixels: Uint8Array.from([0, 0, 0, 255]) }, real, black)).toBe(1);
  });

  it('given the background, a cover decoy never looks like the real token there', async () => {
    const { token, position } = await deriveKeyedToken('mix', { channels: 1, H: 28, W: 28 });
    const real = { token, ...position! };
    const black = new Uint8Array(token.h * token.w);
    const mix = { cells: 0, shift: 0, brightness: 0, cover: 1, 'look-alike-near': 0, 'other-key': 0, far: 0 };
    const rng = new Rng(8);
    let unseen = 0;
    for (let i = 0; i < 2000; i++) {
      const s = drawNearMiss(real, { H: 28, W: 28, rng, levels: 2, mix, background: black });
      expect(shownDistance(s.token, token, black), `draw ${i}`).toBeGreaterThan(0);
      // Without the background some draws do look like the real token (the reason for the rule).
      const bare = drawNearMiss(real, { H: 28, W: 28, rng, levels: 2, mix });
      if (shownDistance(bare.token, token, black) === 0) unseen++;
    }
    expect(unseen).toBeGreaterThan(0);
  });
});

describe('moved patterns', () => {
  // A 3x3 greyscale token with nine distinct values, read row by row: a b c / d e f / g h i.
  const grid: Token = {
    name: 'grid',
    h: 3,
    w: 3,
    c: 1,
    pixels: Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90]),
    mask: new Uint8Array(9).fill(1),
  };
  const byName = new Map(transformedTokens(grid).map((t) => [t.name, Array.from(t.pixels)]));

  it('mirrors, rotates, inverts and rolls the cells exactly, as written out by hand', () => {
    expect(byName.size).toBe(16);
    expect(byName.get('mirrored left-right')).toEqual([30, 20, 10, 60, 50, 40, 90, 80, 70]);
    expect(byName.get('mirrored top-bottom')).toEqual([70, 80, 90, 40, 50, 60, 10, 20, 30]);
    expect(byName.get('rotated 180')).toEqual([90, 80, 70, 60, 50, 40, 30, 20, 10]);
    expect(byName.get('transposed')).toEqual([10, 40, 70, 20, 50, 80, 30, 60, 90]);
    expect(byName.get('anti-transposed')).toEqual([90, 60, 30, 80, 50, 20, 70, 40, 10]);
    // A quarter turn clockwise: the left column, read bottom up, becomes the top row.
    expect(byName.get('rotated 90')).toEqual([70, 40, 10, 80, 50, 20, 90, 60, 30]);
    expect(byName.get('rotated 270')).toEqual([30, 60, 90, 20, 50, 80, 10, 40, 70]);
    expect(byName.get('inverted')).toEqual([245, 235, 225, 215, 205, 195, 185, 175, 165]);
    // Rolled one cell down: each cell takes the one above it, the top row the bottom one.
    expect(byName.get('rolled 1,0')).toEqual([40, 50, 60, 70, 80, 90, 10, 20, 30]);
    expect(byName.get('rolled 0,-1')).toEqual([30, 10, 20, 60, 40, 50, 90, 70, 80]);
  });

  it("keeps an RGB token's channels together, and a non-square token gets no quarter turns", async () => {
    const { token } = await deriveKeyedToken('moved', { channels: 3, size: 5, levels: 2, keyedPosition: false, H: 32, W: 32 });
    for (const t of transformedTokens(token)) {
      expect(t.pixels.length).toBe(token.pixels.length);
      // Each cell's colour (its three channels) comes from one cell of the real token.
      const colours = (x: Token) => Array.from({ length: 25 }, (_, i) => [0, 1, 2].map((ch) => x.pixels[ch * 25 + i]).join());
      if (t.name !== 'inverted') expect(colours(t).sort()).toEqual(colours(token).sort());
    }
    const wide: Token = { name: 'wide', h: 2, w: 3, c: 1, pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]), mask: new Uint8Array(6).fill(1) };
    const names = transformedTokens(wide).map((t) => t.name);
    expect(names).not.toContain('rotated 90');
    expect(names).toHaveLength(12);
    expect(transformedTokens(wide).find((t) => t.name === 'rotated 180')!.pixels).toEqual(Uint8Array.from([6, 5, 4, 3, 2, 1]));
  });
});
