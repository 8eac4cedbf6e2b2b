/**
 * Where a keyed token may go: the public set of places its key picks one from.
 *
 * Anywhere on the image gives the most places to guess from, but a patch over the object costs authorized
 * accuracy: the key 'demo passphrase' lands on an MNIST digit's centre, where the warm-started demo loses 2.6
 * points, against 0.5 near the border (docs/threat-model.md). The quiet places are the share of positions
 * whose pixels vary least over the training images (the sum, under the patch, of each pixel's variance):
 * a pixel that is the same on every image carries nothing the network needs, so covering it costs nothing.
 * The set is computed from the training data and is public: it is stored with the model, like the patch
 * size. It costs log2(1 / share) bits of position, 2 with the default quarter.
 *
 * Platform-neutral: no Node built-ins.
 */
import type { ImageDataset } from '../engine/data/index.js';
import { DEFAULT_MARGIN, type Place } from './tokens.js';

/** The share of all places kept as quiet (a quarter: 90 of 361 places for an 8x8 patch on 28x28 images). */
export const QUIET_SHARE = 0.25;

/** What the set is computed from: a dataset's images and their shape. */
export type PlaceImages = Pick<ImageDataset, 'name' | 'images' | 'n' | 'c' | 'h' | 'w'>;

/** The `share` of places (top-left corners, DEFAULT_MARGIN clear of the borders) that vary least, row-major. */
export function quietPlaces(ds: PlaceImages, size: number, share = QUIET_SHARE): Place[] {
  const { n, c, h, w } = ds;
  if (!Number.isInteger(size) || size < 1 || size + 2 * DEFAULT_MARGIN > Math.min(h, w)) {
    throw new Error(`quietPlaces: a ${size}x${size} patch with a ${DEFAULT_MARGIN}-pixel margin does not fit in ${h}x${w} images`);
  }
  if (!(share > 0 && share <= 1)) throw new Error(`quietPlaces: share must be in (0, 1], got ${share}`);
  if (!(n >= 1) || ds.images.length !== n * c * h * w) {
    throw new Error(`quietPlaces: ${ds.name} needs at least one image of ${c}x${h}x${w} bytes`);
  }
  const variance = pixelVariance(ds);
  // Prefix sums over rows and columns make every patch sum four lookups.
  const stride = w + 1;
  const prefix = new Float64Array((h + 1) * stride);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      prefix[(y + 1) * stride + x + 1] =
        variance[y * w + x]! + prefix[y * stride + x + 1]! + prefix[(y + 1) * stride + x]! - prefix[y * stride + x]!;
    }
  }
  const candidates: { place: Place; score: number }[] = [];
  for (let y = DEFAULT_MARGIN; y + size + DEFAULT_MARGIN <= h; y++) {
    for (let x = DEFAULT_MARGIN; x + size + DEFAULT_MARGIN <= w; x++) {
      const score =
        prefix[(y + size) * stride + x + size]! -
        prefix[y * stride + x + size]! -
        prefix[(y + size) * stride + x]! +
        prefix[y * stride + x]!;
      candidates.push({ place: [y, x], score });
    }
  }
  const keep = Math.max(1, Math.round(share * candidates.length));
  // Stable sort: equal scores keep row-major order, so the set does not depend on the engine's sort.
  const quiet = candidates
    .map((c, i) => ({ ...c, i }))
    .sort((a, b) => a.score - b.score || a.i - b.i)
    .slice(0, keep);
  return quiet.sort((a, b) => a.i - b.i).map((q) => q.place);
}

/** Each pixel's variance over the images, summed over its channels (float64, two running sums per value). */
function pixelVariance(ds: PlaceImages): Float64Array {
  const { n, c, h, w } = ds;
  const plane = h * w;
  const values = c * plane;
  const sum = new Float64Array(values);
  const squares = new Float64Array(values);
  for (let i = 0; i < n; i++) {
    const base = i * values;
    for (let v = 0; v < values; v++) {
      const x = ds.images[base + v]! / 255;
      sum[v] = sum[v]! + x;
      squares[v] = squares[v]! + x * x;
    }
  }
  const out = new Float64Array(plane);
  for (let v = 0; v < values; v++) out[v % plane] = out[v % plane]! + Math.max(0, squares[v]! / n - (sum[v]! / n) ** 2);
  return out;
}
