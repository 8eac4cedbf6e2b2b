/**
 * Random augmentation as per-sample 2x3 affine maps from output pixel to source pixel. Random crop with zero
 * padding, horizontal flip and small random affine transforms (rotation, scale, translation about the
 * centre) are composed as 3x3 matrices with wgpu-matrix and inverted once per sample; the GPU resampling
 * kernel (kernels/prepare-batch.ts) applies them.
 */
import { mat3, type Mat3 } from 'wgpu-matrix';
import type { Rng } from '../random.js';

export interface AugmentOptions {
  /** Random crop after zero padding by this many pixels on each side (0: off). */
  cropPadding?: number;
  /** Random horizontal flip with probability 0.5. */
  hflip?: boolean;
  /** Maximum rotation in degrees (uniform in [-d, d]). */
  rotateDegrees?: number;
  /** Scale range, e.g. [0.9, 1.1]. */
  scale?: readonly [number, number];
  /** Maximum translation as a fraction of the image size. */
  translate?: number;
}

export function isIdentityAugment(a: AugmentOptions | undefined): boolean {
  return !a || (!a.cropPadding && !a.hflip && !a.rotateDegrees && !a.scale && !a.translate);
}

/** Output-to-source affine coefficients [a0..a5] (sx = a0 x + a1 y + a2, sy = a3 x + a4 y + a5) for one sample. */
export function sampleAffine(a: AugmentOptions, h: number, w: number, rng: Rng): Float32Array {
  // Forward map (source -> output), built right to left: centre, scale/rotate, uncentre, flip, translate/crop.
  let m: Mat3 = mat3.identity();
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  if (a.rotateDegrees || a.scale) {
    const angle = (((a.rotateDegrees ?? 0) * Math.PI) / 180) * (2 * rng.next() - 1);
    const s = a.scale ? a.scale[0] + (a.scale[1] - a.scale[0]) * rng.next() : 1;
    m = mat3.multiply(
      mat3.translation([cx, cy]),
      mat3.multiply(mat3.rotation(angle), mat3.multiply(mat3.scaling([s, s]), mat3.translation([-cx, -cy]))),
    );
  }
  if (a.hflip && rng.next() < 0.5) {
    m = mat3.multiply(mat3.multiply(mat3.translation([w - 1, 0]), mat3.scaling([-1, 1])), m);
  }
  let tx = 0;
  let ty = 0;
  if (a.translate) {
    tx += Math.round((2 * rng.next() - 1) * a.translate * w);
    ty += Math.round((2 * rng.next() - 1) * a.translate * h);
  }
  if (a.cropPadding) {
    // A crop of the padded image at offset (ox, oy) moves the content by (p - ox, p - oy).
    const p = a.cropPadding;
    tx += p - rng.int(2 * p + 1);
    ty += p - rng.int(2 * p + 1);
  }
  if (tx || ty) m = mat3.multiply(mat3.translation([tx, ty]), m);
  const inv = mat3.inverse(m);
  // wgpu-matrix stores 3x3 matrices column-major with a padded column stride of 4.
  return Float32Array.of(inv[0]!, inv[4]!, inv[8]!, inv[1]!, inv[5]!, inv[9]!);
}
