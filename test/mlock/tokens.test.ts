import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { PAPER_TOKEN_NAMES, greyLevel, makeToken, stampCpu, tokenPositions, tokensEqual, type Token } from '../../mlock/tokens.js';
import { randomBytes } from '../helpers/arrays.js';

/** The on/off cells of a white-on-black token, read from its first channel. */
function cells(t: Token): number[] {
  return Array.from(t.pixels.subarray(0, t.h * t.w), (v) => (v === 255 ? 1 : v === 0 ? 0 : -1));
}

describe('paper tokens', () => {
  it('dot is one white pixel on every channel', () => {
    for (const c of [1, 3]) {
      const t = makeToken('dot', c);
      expect([t.h, t.w, t.c]).toEqual([1, 1, c]);
      expect(Array.from(t.pixels)).toEqual(new Array(c).fill(255));
      expect(Array.from(t.mask)).toEqual([1]);
    }
  });

  it('3x3 patterns have the documented cells and a mask over the whole patch', () => {
    const expected: Record<string, number[]> = {
      diagonal: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      'upper-triangle': [1, 1, 1, 0, 1, 1, 0, 0, 1],
      'lower-triangle': [1, 0, 0, 1, 1, 0, 1, 1, 1],
      'five-dice': [1, 0, 1, 0, 1, 0, 1, 0, 1],
      square: [1, 1, 1, 1, 1, 1, 1, 1, 1],
    };
    for (const [name, want] of Object.entries(expected)) {
      for (const c of [1, 3]) {
        const t = makeToken(name, c);
        expect([t.h, t.w, t.c], name).toEqual([3, 3, c]);
        expect(Array.from(t.mask), name).toEqual(new Array(9).fill(1));
        // Every channel carries the same white-on-black pattern.
        for (let ch = 0; ch < c; ch++) {
          expect(
            Array.from(t.pixels.subarray(ch * 9, ch * 9 + 9), (v) => (v ? 1 : 0)),
            `${name} ch${ch}`,
          ).toEqual(want);
        }
        expect(
          cells(t).every((v) => v >= 0),
          `${name} only black or white`,
        ).toBe(true);
      }
    }
  });

  it('the 3x3 patterns and the dot are pairwise different', () => {
    const ts = PAPER_TOKEN_NAMES.map((n) => makeToken(n, 3));
    for (let i = 0; i < ts.length; i++) for (let j = i + 1; j < ts.length; j++) expect(tokensEqual(ts[i]!, ts[j]!)).toBe(false);
  });

  it('sticker is a colourful 4x4 patch; on one channel its colours become distinct grey levels', () => {
    const rgb = makeToken('sticker-rgb', 3);
    expect([rgb.h, rgb.w, rgb.c]).toEqual([4, 4, 3]);
    expect(Array.from(rgb.mask)).toEqual(new Array(16).fill(1));
    const colours = new Set<string>();
    let saturated = 0;
    for (let i = 0; i < 16; i++) {
      const [r, g, b] = [rgb.pixels[i]!, rgb.pixels[16 + i]!, rgb.pixels[32 + i]!];
      colours.add(`${r},${g},${b}`);
      if (Math.max(r, g, b) - Math.min(r, g, b) >= 100) saturated++;
    }
    expect(colours.size).toBe(16);
    expect(saturated).toBeGreaterThanOrEqual(10); // colourful, not a grey patch
    const grey = makeToken('sticker-rgb', 1);
    expect(grey.c).toBe(1);
    for (let i = 0; i < 16; i++) {
      expect(grey.pixels[i]).toBe(greyLevel(rgb.pixels[i]!, rgb.pixels[16 + i]!, rgb.pixels[32 + i]!));
    }
    expect(new Set(grey.pixels).size).toBe(16);
  });

  it('rejects unknown names and channel counts clearly', () => {
    expect(() => makeToken('triangle', 3)).toThrow(/unknown token 'triangle'.*valid names: dot, diagonal/);
    expect(() => makeToken('toString', 3)).toThrow(/unknown token/);
    expect(() => makeToken('dot', 2)).toThrow(/channels must be 1 .* or 3/);
    expect(() => makeToken('dot', 0)).toThrow(/channels/);
  });
});

describe('tokenPositions', () => {
  it('fixed placement puts the token in the bottom-right corner with a 1-pixel margin by default', () => {
    const t = makeToken('five-dice', 1);
    const p = tokenPositions({ mode: 'fixed' }, t, 3, 28, 28);
    expect(Array.from(p)).toEqual([24, 24, 24, 24, 24, 24]);
    const q = tokenPositions({ mode: 'fixed', margin: 0 }, makeToken('sticker-rgb', 3), 1, 32, 30);
    expect(Array.from(q)).toEqual([28, 26]);
    const d = tokenPositions({ mode: 'fixed', margin: 2 }, makeToken('dot', 1), 1, 10, 12);
    expect(Array.from(d)).toEqual([7, 9]);
  });

  it('explicit placement repeats the given spot', () => {
    const t = makeToken('square', 3);
    expect(Array.from(tokenPositions({ mode: 'at', y: 2, x: 5 }, t, 2, 8, 8))).toEqual([2, 5, 2, 5]);
  });

  it('random placement covers every spot where the token fits, and only those, reproducibly', () => {
    const t = makeToken('sticker-rgb', 3);
    const H = 9;
    const W = 7;
    const n = 20000;
    const p = tokenPositions({ mode: 'random' }, t, n, H, W, new Rng(5));
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const y = p[2 * i]!;
      const x = p[2 * i + 1]!;
      expect(y >= 0 && x >= 0 && y + 4 <= H && x + 4 <= W).toBe(true);
      seen.set(`${y},${x}`, (seen.get(`${y},${x}`) ?? 0) + 1);
    }
    expect(seen.size).toBe((H - 3) * (W - 3)); // 24 spots
    // Roughly uniform: each spot expects 833 hits, sd ~28.
    for (const count of seen.values()) expect(Math.abs(count - n / 24)).toBeLessThan(4 * Math.sqrt(n / 24));
    expect(Array.from(tokenPositions({ mode: 'random' }, t, 50, H, W, new Rng(5)))).toEqual(Array.from(p.subarray(0, 100)));
  });

  it('rejects tokens that do not fit, bad margins, bad n and a missing rng', () => {
    const t = makeToken('sticker-rgb', 3);
    expect(() => tokenPositions({ mode: 'fixed' }, t, 1, 4, 4)).toThrow(/margin 1 does not fit in a 4x4 image/);
    expect(Array.from(tokenPositions({ mode: 'fixed' }, t, 1, 5, 5))).toEqual([0, 0]); // just fits
    expect(() => tokenPositions({ mode: 'fixed', margin: -1 }, t, 1, 28, 28)).toThrow(/margin/);
    expect(() => tokenPositions({ mode: 'random' }, t, 1, 3, 28, new Rng(1))).toThrow(/does not fit/);
    expect(() => tokenPositions({ mode: 'random' }, t, 1, 28, 28)).toThrow(/needs an rng/);
    expect(() => tokenPositions({ mode: 'at', y: 25, x: 0 }, t, 1, 28, 28)).toThrow(/does not fit/);
    expect(() => tokenPositions({ mode: 'fixed' }, t, -1, 28, 28)).toThrow(/non-negative integer/);
    expect(() => tokenPositions({ mode: 'fixed' }, t, 1, 0, 28)).toThrow(/image size/);
    expect(() => tokenPositions({ mode: 'spiral' } as never, t, 1, 28, 28)).toThrow(/unknown placement mode 'spiral'/);
  });
});

describe('stampCpu', () => {
  /** Checks every pixel of every sample: inside a stamped token's mask it is the token, else the input. */
  function checkStamp(token: Token, n: number, c: number, h: number, w: number, seed: number): void {
    const rng = new Rng(seed);
    const images = randomBytes(rng, n * c * h * w);
    const before = images.slice();
    const positions = tokenPositions({ mode: 'random' }, token, n, h, w, rng);
    const which = new Uint8Array(n);
    for (let i = 0; i < n; i++) which[i] = rng.int(2);
    const out = stampCpu(images, n, c, h, w, token, positions, which);
    expect(images).toEqual(before); // the input is not modified
    let painted = 0;
    for (let i = 0; i < n; i++) {
      const y0 = positions[2 * i]!;
      const x0 = positions[2 * i + 1]!;
      for (let ch = 0; ch < c; ch++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const idx = ((i * c + ch) * h + y) * w + x;
            const ty = y - y0;
            const tx = x - x0;
            const inside = ty >= 0 && tx >= 0 && ty < token.h && tx < token.w && token.mask[ty * token.w + tx] === 1;
            const want = which[i] && inside ? token.pixels[(ch * token.h + ty) * token.w + tx]! : before[idx]!;
            if (out[idx] !== want) throw new Error(`sample ${i} ch ${ch} (${y},${x}): got ${out[idx]}, want ${want}`);
            if (which[i] && inside) painted++;
          }
        }
      }
    }
    const stamped = Array.from(which).reduce((a, b) => a + b, 0);
    const maskOn = Array.from(token.mask).reduce((a, b) => a + b, 0);
    expect(painted).toBe(stamped * maskOn * c);
  }

  it('writes exactly the token pixels of the selected samples, for every paper token', () => {
    let seed = 1;
    for (const name of PAPER_TOKEN_NAMES) {
      for (const c of [1, 3]) checkStamp(makeToken(name, c), 12, c, 9, 11, seed++);
    }
  });

  it('leaves unmasked token pixels untouched (partial masks)', () => {
    // A hand-built 2x3 token with holes, including in its first column: those must show the image.
    const token: Token = {
      name: 'holes',
      h: 2,
      w: 3,
      c: 3,
      pixels: Uint8Array.from({ length: 18 }, (_, i) => 200 + (i % 50)),
      mask: Uint8Array.from([0, 1, 1, 1, 0, 1]),
    };
    checkStamp(token, 10, 3, 6, 7, 99);
  });

  it('stamps a dot at the fixed corner of a known image', () => {
    const img = new Uint8Array(1 * 1 * 4 * 4); // one black 4x4 greyscale image
    const t = makeToken('dot', 1);
    const out = stampCpu(img, 1, 1, 4, 4, t, tokenPositions({ mode: 'fixed' }, t, 1, 4, 4), new Uint8Array([1]));
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0]);
  });

  it('rejects mismatched shapes and out-of-image positions', () => {
    const t = makeToken('square', 3);
    const img = new Uint8Array(2 * 3 * 8 * 8);
    const pos = tokenPositions({ mode: 'fixed' }, t, 2, 8, 8);
    expect(() => stampCpu(img, 2, 3, 8, 9, t, pos, new Uint8Array(2))).toThrow(/images has 384 values, expected n\*c\*h\*w = 432/);
    expect(() => stampCpu(img, 2, 3, 8, 8, makeToken('square', 1), pos, new Uint8Array(2))).toThrow(
      /token has 1 channels but the images have 3/,
    );
    expect(() => stampCpu(img, 2, 3, 8, 8, t, new Int32Array(3), new Uint8Array(2))).toThrow(/positions has 3 values/);
    expect(() => stampCpu(img, 2, 3, 8, 8, t, pos, new Uint8Array(3))).toThrow(/which has 3 values/);
    expect(() => stampCpu(img, 2, 3, 8, 8, t, Int32Array.from([0, 0, 6, 0]), new Uint8Array([1, 1]))).toThrow(
      /sample 1: a 3x3 token at \(6, 0\) does not fit/,
    );
    expect(() => stampCpu(img, 2, 3, 8, 8, { ...t, mask: new Uint8Array(4) }, pos)).toThrow(/mask has 4 values/);
  });
});
