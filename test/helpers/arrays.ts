/** Host-side arrays for tests: element counts, seeded random bytes, text as bytes, zero checks. */
import type { Rng } from '../../engine/random.js';

/** Number of elements of a tensor of this shape (1 for the scalar shape []). */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** `length` uniform random bytes (0-255), e.g. 8-bit images. */
export function randomBytes(rng: Rng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => rng.int(256));
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Whether every byte of the buffer is zero (a wiped secret). */
export function allZero(buffer: ArrayBuffer): boolean {
  return new Uint8Array(buffer).every((v) => v === 0);
}
