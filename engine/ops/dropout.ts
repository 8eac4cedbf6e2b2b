/**
 * Dropout with an explicit seed: the mask is a hash of (seed, element index) computed on the GPU, so a seed
 * gives the same mask on every adapter and the backward pass regenerates it rather than storing it.
 */
import { defineOp } from '../graph.js';
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { dropoutProgram, dropoutUniforms } from '../../kernels/dropout.js';
import { reshape } from './layout.js';

export interface DropoutOptions {
  /** Integer in [0, 2^32): selects the mask. Required in training mode. */
  seed?: number;
  /** Default true. In eval mode dropout is the identity (a view of x). */
  training?: boolean;
}

/** Zero each element with probability p (mask from `seed`), scale the rest by 1 / (1 - p). Records nothing. */
export function dropoutMask(x: Tensor, p: number, seed: number): Tensor {
  return runProgram(dropoutProgram(), { inputs: { x }, outputs: { y: x.shape }, uniforms: { n: x.size, ...dropoutUniforms(p, seed) } }).y;
}

/** The mask is regenerated from the seed, so backward needs no saved tensor. */
const dropoutOp = defineOp<{ p: number; seed: number }>({
  name: 'dropout',
  grad: (g, { attrs: { p, seed } }) => [dropoutMask(g, p, seed)],
});

/** Refuse a drop probability outside [0, 1] (`op` names the caller in the message). */
export function checkDropoutP(op: string, p: number): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`${op}: p must be a probability in [0, 1], got ${p}`);
}

/** Refuse a missing or out-of-range mask seed (`field` says where the caller passed it). */
export function checkDropoutSeed(op: string, seed: number | undefined, field = 'options.seed'): asserts seed is number {
  if (seed === undefined || !Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`${op}: training mode needs ${field}, an integer in [0, 2^32), got ${seed}`);
  }
}

/** Inverted dropout of `x` with drop probability `p` in [0, 1]. */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  x.buffer('dropout');
  if (x.dtype !== 'f32') throw new Error(`dropout: expects an f32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  checkDropoutP('dropout', p);
  if (!(options.training ?? true)) return reshape(x, x.shape);
  const seed = options.seed;
  checkDropoutSeed('dropout', seed);
  return dropoutOp.record(dropoutMask(x, p, seed), [x], { p, seed }, {});
}
