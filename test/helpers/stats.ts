/** Statistical expectations and similarity measures shared by tests. */
import { expect } from 'vitest';

/** |observed - expected| within 4 binomial standard deviations: `count` successes out of `n` at probability `p`. */
export function expectBinomial(count: number, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p), `count ${count} vs ${n * p} (sd ${sd.toFixed(1)})`).toBeLessThan(4 * sd);
}

/** Peak signal-to-noise ratio in dB of two 8-bit images of the same length (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let k = 0; k < a.length; k++) se += (a[k]! - b[k]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}
