/** Seeded weight initialisation (Kaiming/He and Xavier/Glorot), drawn on the CPU for determinism. */
import type { Rng } from '../random.js';
import { rand, randn } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';

/** fan_in and fan_out of a weight laid out [out, in, ...kernel]. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape[1] ?? 1) * receptive, fanOut: (shape[0] ?? 1) * receptive };
}

/** He normal for ReLU networks: N(0, 2/fan_in). */
export function kaimingNormal(shape: readonly number[], rng: Rng): Tensor {
  return randn(shape, { rng, std: Math.sqrt(2 / fans(shape).fanIn) });
}

/** He uniform: U(-b, b) with b = sqrt(6/fan_in). */
export function kaimingUniform(shape: readonly number[], rng: Rng): Tensor {
  const b = Math.sqrt(6 / fans(shape).fanIn);
  return rand(shape, { rng, low: -b, high: b });
}

/** Glorot uniform: U(-b, b) with b = sqrt(6/(fan_in + fan_out)). */
export function xavierUniform(shape: readonly number[], rng: Rng): Tensor {
  const { fanIn, fanOut } = fans(shape);
  const b = Math.sqrt(6 / (fanIn + fanOut));
  return rand(shape, { rng, low: -b, high: b });
}

/** PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function biasUniform(n: number, fanIn: number, rng: Rng): Tensor {
  const b = 1 / Math.sqrt(fanIn);
  return rand([n], { rng, low: -b, high: b });
}
