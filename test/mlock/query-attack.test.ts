import { describe, expect, it } from 'vitest';
// First: it registers the WebGPU globals the engine modules below read when they load.
import { useEngine } from '../helpers/setup.js';
import { Rng } from '../../engine/random.js';
import { tensor } from '../../engine/index.js';
import { Flatten, Linear, Sequential } from '../../engine/nn/index.js';
import type { ImageDataset } from '../../engine/data/index.js';
import { auditLock, auditMarkdown } from '../../mlock/audit.js';
import { log2Binomial } from '../../mlock/guess-estimate.js';
import { changeCells, lookAlike } from '../../mlock/near-miss.js';
import { climb, climbCost, trueLabelProbabilities } from '../../mlock/query-attack.js';
import { fromCells, tokensEqual, type Token } from '../../mlock/tokens.js';

useEngine();

// 12 x 12 grey images of noise, every one labelled 0 of 2 classes; the hidden 8 x 8 pattern sits at (2, 2).
const SIZE = 12;
const AT = { y: 2, x: 2 };
const normalization = { mean: [0], std: [1] };

function noiseImages(n: number, seed: number): ImageDataset {
  const rng = new Rng(seed);
  const images = Uint8Array.from({ length: n * SIZE * SIZE }, () => rng.int(256));
  return { name: 'noise', images, labels: new Int32Array(n), n, c: 1, h: SIZE, w: SIZE, numClasses: 2 };
}

function hiddenPattern(seed: number): Token {
  const rng = new Rng(seed);
  return fromCells(
    'hidden',
    8,
    Array.from({ length: 64 }, () => rng.int(2)),
    1,
  );
}

/**
 * A linear model whose class-0 logit minus its class-1 logit is 3.5 - d, d the cells of the 8 x 8 patch at
 * (2, 2) that differ from `hidden` (pixels 0 or 1 after normalisation): weight +1 on a white cell, -1 on a
 * black one, so each cell set right adds 1 to the margin. The true label's probability, sigmoid(3.5 - d),
 * rises with every cell matched, and the answer is right only within 3 cells of the pattern. `flat`: every
 * weight zero, probabilities 1/2 whatever is painted. `cellWeight` makes some cells count more (d is then the
 * weights of the cells that differ).
 */
function patternModel(hidden: Token, flat = false, cellWeight = (_cell: number) => 1): Sequential {
  const model = new Sequential(new Flatten(), new Linear(SIZE * SIZE, 2));
  const w = new Float32Array(2 * SIZE * SIZE);
  let white = 0;
  for (let ty = 0; ty < 8; ty++)
    for (let tx = 0; tx < 8; tx++) {
      const cell = ty * 8 + tx;
      const on = hidden.pixels[cell]! > 0;
      white += on ? cellWeight(cell) : 0;
      w[(AT.y + ty) * SIZE + AT.x + tx] = flat ? 0 : (on ? 1 : -1) * cellWeight(cell);
    }
  model.loadStateDict(
    new Map([
      ['1.weight', tensor(w, [2, SIZE * SIZE])],
      ['1.bias', tensor(flat ? [0, 0] : [3.5 - white, 0])],
    ]),
  );
  return model;
}

function distance(a: Token, b: Token): number {
  let d = 0;
  for (let i = 0; i < a.pixels.length; i++) if (a.pixels[i] !== b.pixels[i]) d++;
  return d;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('the probability climb', () => {
  const hidden = hiddenPattern(5);
  const images = noiseImages(64, 1);

  it("scores each stamp by the mean probability of the true label, as the model's margin says", async () => {
    const model = patternModel(hidden);
    const rng = new Rng(2);
    const stamps = [0, 1, 3, 6, 20].map((d) => ({ token: changeCells(hidden, d, rng, 2), ...AT }));
    const p = await trueLabelProbabilities({ model, images, normalization, imagesPerPass: 2 * 64 }, stamps);
    stamps.forEach((s, i) => expect(p[i]).toBeCloseTo(sigmoid(3.5 - distance(s.token, hidden)), 5));
    model.dispose();
  });

  it('climbs back to the hidden pattern from cells off, one cell a step, and stops there', async () => {
    const model = patternModel(hidden);
    const rng = new Rng(3);
    const starts = [2, 6, 8].map((k) => ({ token: changeCells(hidden, k, rng, 2), ...AT }));
    const climbs = await climb({ model, images, normalization, levels: 2 }, starts);
    climbs.forEach((c, i) => {
      const k = [2, 6, 8][i]!;
      expect(tokensEqual(c.end.token, hidden)).toBe(true);
      expect(c.end).toMatchObject(AT);
      expect(c.steps).toBe(k);
      // The start, then 64 one-cell candidates for each of the k steps and for the step that found no rise.
      expect(c.queries).toBe(1 + 64 * (k + 1));
      expect(c.startProbability).toBeCloseTo(sigmoid(3.5 - k), 5);
      expect(c.endProbability).toBeCloseTo(sigmoid(3.5), 5);
    });
    model.dispose();
  });

  it('takes the change that raises the probability most, not the first one that raises it', async () => {
    // Cell 40 counts twice: from a start with cells 3 and 40 wrong, one step must set cell 40 right.
    const model = patternModel(hidden, false, (cell) => (cell === 40 ? 2 : 1));
    const token = { ...hidden, name: 'two off', pixels: hidden.pixels.slice() };
    for (const cell of [3, 40]) token.pixels[cell] = 255 - token.pixels[cell]!;
    const [c] = await climb({ model, images, normalization, levels: 2, maxSteps: 1 }, [{ token, ...AT }]);
    expect(c!.steps).toBe(1);
    expect(c!.startProbability).toBeCloseTo(sigmoid(3.5 - 3), 5);
    expect(c!.endProbability).toBeCloseTo(sigmoid(3.5 - 1), 5);
    expect(c!.end.token.pixels[40]).toBe(hidden.pixels[40]);
    expect(c!.end.token.pixels[3]).toBe(token.pixels[3]);
    model.dispose();
  });

  it('stops at the step cap far from the pattern, each step one cell closer', async () => {
    const model = patternModel(hidden);
    const start = { token: lookAlike(hidden, new Rng(4), 2), ...AT };
    const d0 = distance(start.token, hidden);
    expect(d0).toBeGreaterThan(20);
    const [c] = await climb({ model, images, normalization, levels: 2, maxSteps: 12 }, [start]);
    expect(c!.steps).toBe(12);
    expect(c!.queries).toBe(1 + 64 * 12);
    expect(distance(c!.end.token, hidden)).toBe(d0 - 12);
    model.dispose();
  });

  it('finds nothing on a model whose probabilities do not answer to the cells: it stops at once', async () => {
    const model = patternModel(hidden, true);
    const start = { token: changeCells(hidden, 2, new Rng(6), 2), ...AT };
    const [c] = await climb({ model, images, normalization, levels: 2 }, [start]);
    expect(c!.steps).toBe(0);
    expect(c!.queries).toBe(1 + 64);
    expect(c!.end).toBe(start);
    expect(c!.endProbability).toBeCloseTo(0.5, 6);
    model.dispose();
  });
});

describe('climbCost', () => {
  it('divides the token space by the patterns within R cells and multiplies by the queries per climb', () => {
    // The threat model's figures: C(64, <=4) = 1 + 64 + 2,016 + 41,664 + 635,376 = 679,121 of 2^64 x 90.
    const c = climbCost({ cells: 64, colours: 2, places: 90, radius: 4, queriesPerClimb: 769, images: 64 });
    expect(c.log2TokenSpace).toBeCloseTo(64 + Math.log2(90), 9);
    expect(c.log2Basin).toBeCloseTo(Math.log2(679_121), 9);
    expect(c.log2Starts).toBeCloseTo(64 + Math.log2(90) - Math.log2(679_121), 9);
    expect(c.log2Starts).toBeCloseTo(51.1, 1);
    expect(c.log2Queries).toBeCloseTo(c.log2Starts + Math.log2(769), 9);
    expect(c.explanation.join('\n')).toMatch(/2\^70\.5 \/ 2\^19\.4 = 2\^51\.1/);
    // Three grey levels: 2 other colours per cell, 1 + 64 x 2 + 2,016 x 4 = 8,193 patterns within 2 cells.
    const three = climbCost({ cells: 64, colours: 3, places: 1, radius: 2, queriesPerClimb: 1, images: 64 });
    expect(three.log2Basin).toBeCloseTo(Math.log2(8193), 9);
    expect(three.log2Starts).toBeCloseTo(64 * Math.log2(3) - Math.log2(8193), 9);
    expect(three.log2Queries).toBe(three.log2Starts);
    // Far past any real radius the sum still comes out finite, and agrees with the binomial terms summed.
    const wide = climbCost({ cells: 64, colours: 2, places: 1, radius: 64, queriesPerClimb: 1, images: 1 });
    expect(wide.log2Basin).toBeCloseTo(64, 9);
    expect(wide.log2Starts).toBe(0);
    const hand = Array.from({ length: 9 }, (_, d) => 2 ** log2Binomial(64, d)).reduce((a, b) => a + b, 0);
    expect(climbCost({ cells: 64, colours: 2, places: 1, radius: 8, queriesPerClimb: 1, images: 1 }).log2Basin).toBeCloseTo(
      Math.log2(hand),
      9,
    );
  });
});

describe('the audit runs the climb', () => {
  it('reports the basin per distance, the blind climbs as a bounded group, and their cost', async () => {
    const hidden = hiddenPattern(7);
    const model = patternModel(hidden);
    const ds = noiseImages(300, 8);
    const among = [
      [1, 1],
      [2, 2],
      [3, 3],
    ] as const;
    const settings = {
      strategy: { name: 'uniform' as const },
      poisonRatio: 0.5,
      decoyRatio: 0,
      levels: 2,
      token: hidden,
      placement: { mode: 'at' as const, ...AT, among },
    };
    const r = await auditLock({ model, dataset: ds, settings, normalization, samples: 100, perDistance: 5, randomKeys: 5, seed: 0 });
    const q = r.queryClimb!;
    // perDistance 5: one start per basin distance, two blind starts.
    expect(q.basin.map((b) => [b.cells, b.starts, b.recovered])).toEqual([
      [2, 1, 1],
      [3, 1, 1],
      [4, 1, 1],
      [6, 1, 1],
      [8, 1, 1],
    ]);
    // Every basin climb walks straight back (the model's margin rises by one per cell): R is the largest tried.
    expect(q.basin.map((b) => b.meanSteps)).toEqual([2, 3, 4, 6, 8]);
    expect(q.basin.every((b) => b.bestAccuracy === 1)).toBe(true);
    expect(q.radius).toBe(8);
    // From random patterns 12 changes are far too few: nothing unlocks.
    expect(q.blind).toMatchObject({ starts: 2, unlocked: 0, best: 0 });
    // The lightest audits climb with 16 images a query (the full audit's perDistance of 200 with 64).
    expect(q.attackerImages).toBe(16);
    const climbGroups = r.groups.filter((g) => g.family === 'query-climb');
    expect(climbGroups.map((g) => [g.count, g.bounded])).toEqual([
      [1, false],
      [1, false],
      [1, false],
      [1, false],
      [1, false],
      [2, true],
    ]);
    // The cost: 2^64 x 3 places over the patterns within 8 cells, times the blind climbs' queries.
    const within8 = Array.from({ length: 9 }, (_, d) => 2 ** log2Binomial(64, d)).reduce((a, b) => a + b, 0);
    expect(q.cost.log2Starts).toBeCloseTo(64 + Math.log2(3) - Math.log2(within8), 9);
    expect(q.cost.log2Queries).toBeCloseTo(q.cost.log2Starts + Math.log2(q.blind.meanQueries), 9);
    expect(q.forwards).toBe(16 * ([2, 3, 4, 6, 8].reduce((s, k) => s + 1 + 64 * (k + 1), 0) + 2 * q.blind.meanQueries));
    const md = auditMarkdown(r);
    expect(md).toMatch(/\| real pattern, 8 cells changed \| 1 \| 1 \| 100\.0% \| 8\.0 \|/);
    expect(md).toContain('Basin radius R: 8 cells');
    // A public place (fixed, 2 px from the bottom-right corner: (2, 2) again): the blind climbs start there,
    // where every step finds a cell to set right, and the token space is the patterns alone.
    const fixed = await auditLock({
      model,
      dataset: ds,
      settings: { ...settings, placement: { mode: 'fixed', margin: 2 } },
      normalization,
      samples: 100,
      perDistance: 5,
      randomKeys: 2,
    });
    expect(fixed.queryClimb!.blind).toMatchObject({ starts: 2, unlocked: 0, meanSteps: 12 });
    expect(fixed.queryClimb!.cost.log2TokenSpace).toBe(64);
    expect(fixed.queryClimb!.radius).toBe(8);
    model.dispose();
  }, 120_000);

  it('climbs a colour token with fewer images a query, and says when no climb got back', async () => {
    // RGB noise labelled 1, a model with every weight zero: both classes tie, argmax answers 0, nothing unlocks
    // and no change moves a probability, so every climb stops after its first step.
    const rng = new Rng(9);
    const n = 200;
    const ds: ImageDataset = {
      name: 'rgb noise',
      images: Uint8Array.from({ length: n * 3 * SIZE * SIZE }, () => rng.int(256)),
      labels: new Int32Array(n).fill(1),
      n,
      c: 3,
      h: SIZE,
      w: SIZE,
      numClasses: 2,
    };
    const token = lookAlike(fromCells('rgb', 8, new Array<number>(64).fill(0), 3), rng, 2);
    const model = new Sequential(new Flatten(), new Linear(3 * SIZE * SIZE, 2));
    model.loadStateDict(
      new Map([
        ['1.weight', tensor(new Float32Array(2 * 3 * SIZE * SIZE), [2, 3 * SIZE * SIZE])],
        ['1.bias', tensor([0, 0])],
      ]),
    );
    const settings = {
      strategy: { name: 'uniform' as const },
      poisonRatio: 0.5,
      decoyRatio: 0,
      levels: 2,
      token,
      placement: { mode: 'at' as const, ...AT },
    };
    const r = await auditLock({
      model,
      dataset: ds,
      settings,
      normalization: { mean: [0, 0, 0], std: [1, 1, 1] },
      samples: 50,
      perDistance: 5,
      randomKeys: 2,
    });
    const q = r.queryClimb!;
    // 7 other colours a cell: 448 candidates a step, so 16 x 64 / 448 images a query, at least 8.
    expect(q.attackerImages).toBe(8);
    expect(q.basin.every((b) => b.recovered === 0 && b.meanSteps === 0)).toBe(true);
    expect(q.radius).toBeNull();
    expect(q.blind).toMatchObject({ starts: 2, unlocked: 0, meanSteps: 0, meanQueries: 1 + 448 });
    // R taken as one cell: 1 + 64 x 7 patterns of 8^64 x 9 places (no public set given: every place).
    expect(q.cost.log2Starts).toBeCloseTo(64 * 3 + Math.log2(9) - Math.log2(1 + 64 * 7), 9);
    expect(q.cost.explanation[1]).toMatch(/no climb got back .* R taken as 1/);
    model.dispose();
  }, 120_000);
});
