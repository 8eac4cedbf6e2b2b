/**
 * Dropout with an explicit seed: the mask is a hash of (seed, element index) computed on the GPU, so a seed
 * gives the same mask on every adapter and the backward pass regenerates it rather than storing it.
 */
import { defineOp } from '../graph.js';
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { dropoutProgram, DROPOUT_LEVELS } from '../../kernels/dropout.js';
import { reshape } from './layout.js';

export interface DropoutOptions {
  /** Integer in [0, 2^32): selects the mask. Required in training mode. */
  seed?: number;
  /** Default true. In eval mode dropout is the identity (a view of x). */
  training?: boolean;
}

/** Zero each element with probability p (mask from `seed`), scale the rest by 1 / (1 - p). */
function applyMask(x: Tensor, p: number, seed: number): Tensor {
  return runProgram(dropoutProgram(), {
    inputs: { x },
    outputs: { y: x.shape },
    uniforms: { n: x.size, seed, threshold: Math.round(p * DROPOUT_LEVELS), scale: p < 1 ? 1 / (1 - p) : 0 },
  }).y;
}

/** The mask is regenerated from the seed, so backward needs no saved tensor. */
const dropoutOp = defineOp<{ p: number; seed: number }>({ name: 'dropout', grad: (g, { attrs: { p, seed } }) => [applyMask(g, p, seed)] });

/** Inverted dropout of `x` with drop probability `p` in [0, 1]. */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  x.buffer('dropout');
  if (x.dtype !== 'f32') throw new Error(`dropout: expects an f32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be a probability in [0, 1], got ${p}`);
  if (!(options.training ?? true)) return reshape(x, x.shape);
  const seed = options.seed;
  if (seed === undefined || !Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`dropout: training mode needs options.seed, an integer in [0, 2^32), got ${seed}`);
  }
  return dropoutOp.record(applyMask(x, p, seed), [x], { p, seed }, {});
}
