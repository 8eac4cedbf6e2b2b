/**
 * Seeded dropout. The keep/drop decision for element i is a pure function of (seed, i): a counter-based hash
 * (the PCG output permutation applied to one LCG step, a bijection of u32) in integer arithmetic, so every
 * adapter draws the same mask and the backward pass regenerates it instead of storing it.
 *
 * Element i is kept when the top 24 bits of hash(hash(i) ^ hash(seed)) are >= threshold = round(p * 2^24);
 * kept elements are scaled by 1 / (1 - p). The same kernel applied to the upstream gradient is the adjoint.
 */
import type { KernelProgram } from './program.js';
import { linearMainWgsl } from './wgsl.js';

export const DROPOUT_WORKGROUP = 256;

/** Resolution of the keep probability: decisions compare 24-bit hash values against p * 2^24. */
export const DROPOUT_LEVELS = 1 << 24;

export function dropoutProgram(): KernelProgram {
  return {
    name: 'dropout',
    key: 'dropout',
    workgroupSize: [DROPOUT_WORKGROUP],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'seed', type: 'u32' },
      { name: 'threshold', type: 'u32' },
      { name: 'scale', type: 'f32' },
    ],
    inputs: ['f32'],
    outputs: ['f32'],
    body: () => `fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

${linearMainWgsl(DROPOUT_WORKGROUP)}
  if (i >= u.n) { return; }
  let h = pcgHash(pcgHash(i) ^ pcgHash(u.seed));
  out0[i] = select(0.0, in0[i] * u.scale, (h >> 8u) >= u.threshold);
}`,
  };
}
