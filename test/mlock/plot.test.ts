/** Training curves: a loss above the accuracy range stays inside the chart, on its own axis; the baseline is drawn. */
import { describe, expect, it } from 'vitest';
import { curvesSvg, type EpochLog } from '../../mlock/run.js';

const history: EpochLog[] = [5.2, 3.9, 2.4].map((trainLoss, i) => ({
  epoch: i + 1,
  trainLoss,
  trainAccuracy: 0.3 + 0.1 * i,
  valAccuracy: 0.4 + 0.1 * i,
  valUnauthorizedAccuracy: 0.1,
  lr: 0.01,
  seconds: 1,
  imagesPerSecond: 100,
}));

describe('curvesSvg', () => {
  it('puts the loss on a right axis scaled to it, and draws the baseline', () => {
    const svg = curvesSvg(history, true, 10, 0.9);
    const height = Number(/height="(\d+)"/.exec(svg)![1]);
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([-\d.]+)"/g)].map((m) => Number(m[1]));
    expect(ys.length).toBeGreaterThan(0);
    for (const y of ys) {
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(height);
    }
    expect(svg).toContain('train loss (right axis)');
    expect(svg).toContain('baseline test 90.0%');
    expect(svg).toMatch(/rotate\(90\)" text-anchor="middle">train loss</);
  });
});
