/**
 * The demo's MNIST test images, written by `npm run build:demo-model`: a file of n label bytes followed by
 * n 28x28 images (row-major, 8-bit, white digit on black), so n = file size / 785.
 */
import { SIDE } from './draw-pad.js';

export interface Sample {
  label: number;
  pixels: Uint8Array;
}

export function parseSamples(bytes: Uint8Array): Sample[] {
  const per = 1 + SIDE * SIDE;
  if (bytes.length === 0 || bytes.length % per !== 0)
    throw new Error(`samples file: ${bytes.length} bytes is not a whole number of ${per}-byte samples`);
  const n = bytes.length / per;
  return Array.from({ length: n }, (_, i) => ({
    label: bytes[i]!,
    pixels: bytes.subarray(n + i * SIDE * SIDE, n + (i + 1) * SIDE * SIDE),
  }));
}
