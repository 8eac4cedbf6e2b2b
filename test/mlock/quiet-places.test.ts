import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { deriveKeyedToken, keySpaceBits, tokenGeometry, validatePlaces } from '../../mlock/keyed.js';
import { quietPlaces } from '../../mlock/quiet-places.js';
import { resolveToken, tokenForModel } from '../../mlock/token-spec.js';
import type { Place } from '../../mlock/tokens.js';

function images(n: number, c: number, h: number, w: number, pixel: (i: number, ch: number, y: number, x: number) => number) {
  const bytes = new Uint8Array(n * c * h * w);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) bytes[((i * c + ch) * h + y) * w + x] = pixel(i, ch, y, x);
  return { name: 'synthetic', images: bytes, n, c, h, w };
}

/** Float64 reference: each place's summed per-channel variance by direct two-pass loops, then the k lowest. */
function referenceQuiet(ds: ReturnType<typeof images>, size: number, share: number): Place[] {
  const { n, c, h, w } = ds;
  const value = (i: number, ch: number, y: number, x: number) => ds.images[((i * c + ch) * h + y) * w + x]! / 255;
  const scored: { p: Place; s: number; i: number }[] = [];
  for (let y = 1; y + size + 1 <= h; y++) {
    for (let x = 1; x + size + 1 <= w; x++) {
      let s = 0;
      for (let ch = 0; ch < c; ch++) {
        for (let dy = 0; dy < size; dy++) {
          for (let dx = 0; dx < size; dx++) {
            let mean = 0;
            for (let i = 0; i < n; i++) mean += value(i, ch, y + dy, x + dx) / n;
            for (let i = 0; i < n; i++) s += (value(i, ch, y + dy, x + dx) - mean) ** 2 / n;
          }
        }
      }
      scored.push({ p: [y, x], s, i: scored.length });
    }
  }
  const k = Math.max(1, Math.round(share * scored.length));
  // Scores within 1e-9 count as ties (the reference and the prefix sums round differently), broken row-major.
  return scored
    .sort((a, b) => (Math.abs(a.s - b.s) > 1e-9 ? a.s - b.s : a.i - b.i))
    .slice(0, k)
    .sort((a, b) => a.i - b.i)
    .map((q) => q.p);
}

describe('quietPlaces', () => {
  it('matches a float64 reference on seeded random images, greyscale and RGB', () => {
    const rng = new Rng(20261201);
    for (const [c, h, w, size, share] of [
      [1, 14, 12, 4, 0.25],
      [3, 10, 11, 3, 0.4],
    ] as const) {
      // Each pixel varies with its own amplitude, so places get distinct scores.
      const amp = Array.from({ length: c * h * w }, () => rng.next());
      const ds = images(20, c, h, w, (_i, ch, y, x) => Math.round(255 * amp[(ch * h + y) * w + x]! * rng.next()));
      expect(quietPlaces(ds, size, share)).toEqual(referenceQuiet(ds, size, share));
    }
  });

  it('avoids where the images differ, and counts channels apart (a colour the same on every image is quiet)', () => {
    // Every image is the same except a 3x3 block at rows 2-4, columns 6-8; each channel has its own constant.
    const ds = images(8, 3, 12, 12, (i, ch, y, x) => (y >= 2 && y <= 4 && x >= 6 && x <= 8 ? (i * 37) % 256 : 60 * ch));
    const quiet = quietPlaces(ds, 3, 0.5);
    expect(quiet.length).toBe(Math.round(0.5 * 8 * 8));
    for (const [y, x] of quiet) {
      const overlaps = y <= 4 && y + 3 > 2 && x <= 8 && x + 3 > 6;
      expect(overlaps, `place (${y}, ${x})`).toBe(false);
    }
  });

  it('refuses a patch that does not fit, a share outside (0, 1], and bytes that do not match the shape', () => {
    const ds = images(2, 1, 8, 8, () => 0);
    expect(() => quietPlaces(ds, 7, 0.25)).toThrow(/does not fit in 8x8/);
    expect(() => quietPlaces(ds, 3, 0)).toThrow(/share must be in \(0, 1\]/);
    expect(() => quietPlaces({ ...ds, n: 3 }, 3, 0.25)).toThrow(/synthetic needs at least one image of 1x8x8 bytes/);
  });
});

describe('a keyed position drawn from a public place set', () => {
  const set: Place[] = [
    [1, 1],
    [1, 19],
    [10, 4],
    [19, 1],
    [19, 19],
  ];

  it('always lands in the set, reaches every member, and is the same for the same key', async () => {
    const seen = new Set<string>();
    for (let k = 0; k < 60; k++) {
      const { position } = await deriveKeyedToken(`key ${k}`, { channels: 1, H: 28, W: 28, places: set });
      const hit = set.find(([y, x]) => y === position!.y && x === position!.x);
      expect(hit, `key ${k} at ${JSON.stringify(position)}`).toBeDefined();
      seen.add(String(hit));
    }
    expect(seen.size).toBe(set.length);
    const again = await deriveKeyedToken('key 7', { channels: 1, H: 28, W: 28, places: set });
    expect(again).toEqual(await deriveKeyedToken('key 7', { channels: 1, H: 28, W: 28, places: set }));
  });

  it('is stored with the model, reopens to the training place, and counts log2(|set|) bits of position', async () => {
    const train = images(16, 1, 28, 28, (i, _c, y, x) => (y > 6 && y < 22 && x > 6 && x < 22 ? (i * 53 + y * x) % 256 : 0));
    const resolved = await resolveToken({ key: 'the owner key' }, 1, 28, 28, train);
    const among = resolved.placement.mode === 'at' ? resolved.placement.among : undefined;
    expect(among).toEqual(quietPlaces(train, 8));
    expect(resolved.keySpaceBits).toBeCloseTo(64 + Math.log2(among!.length), 9);
    expect(keySpaceBits({ size: 8, channels: 1, levels: 2, keyedPosition: true, places: 90, H: 28, W: 28 })).toBeCloseTo(
      64 + Math.log2(90),
      9,
    );
    const g = JSON.parse(JSON.stringify(tokenGeometry(resolved.token, resolved.placement, resolved.levels)));
    expect(g.placement).toEqual({ mode: 'secret', places: among!.map(([y, x]) => [y, x]) });
    const reopened = await tokenForModel('the owner key', g, [1, 28, 28]);
    expect(reopened.placement).toEqual(resolved.placement);
    expect(reopened.keySpaceBits).toBe(resolved.keySpaceBits);
  });

  it('refuses a stored set that is empty, out of bounds, repeated or out of order, naming the entry', async () => {
    expect(() => validatePlaces([], 8, 28, 28, 'geometry')).toThrow(/non-empty list/);
    expect(() =>
      validatePlaces(
        [
          [1, 1],
          [20, 3],
        ],
        8,
        28,
        28,
        'geometry',
      ),
    ).toThrow(/places\[1\] = \[20,3\] is not a corner/);
    expect(() =>
      validatePlaces(
        [
          [2, 2],
          [1, 1],
        ],
        8,
        28,
        28,
        'geometry',
      ),
    ).toThrow(/row-major order \(places\[1\] = \[1, 1\]\)/);
    expect(() =>
      validatePlaces(
        [
          [1, 1],
          [1, 1],
        ],
        8,
        28,
        28,
        'geometry',
      ),
    ).toThrow(/distinct/);
    expect(() => validatePlaces([[1, 1.5]], 8, 28, 28, 'geometry')).toThrow(/places\[0\]/);
    const g = { version: 2, h: 8, w: 8, c: 1, levels: 2, placement: { mode: 'secret', places: [[0, 3]] }, fingerprint: 'x' } as never;
    await expect(tokenForModel('k', g, [1, 28, 28])).rejects.toThrow(/the model's token geometry: places\[0\] = \[0,3\]/);
  });
});
