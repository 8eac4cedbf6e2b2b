/**
 * Seeded dropout. The keep/drop decision for element i is a pure function of (seed, i): a counter-based hash
 * (the PCG output permutation applied to one LCG step, a bijection of u32) in integer arithmetic, so every
 * adapter draws the same mask and the backward pass regenerates it instead of storing it.
 *
 * Element i is kept when the top 24 bits of hash(hash(i) ^ hash(seed)) are >= threshold = round(p * 2^24);
 * kept elements are scaled by 1 / (1 - p). The same kernel applied to the upstream gradient is the adjoint.
 * Other kernels apply the same mask in their epilogue (the matmul's, after a relu) through `dropoutWgsl`, so a
 * fused dropout draws exactly the mask this kernel would.
 */
import { kernel, linearGrid, type UniformField } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/** Resolution of the keep probability: decisions compare 24-bit hash values against p * 2^24. */
export const DROPOUT_LEVELS = 1 << 24;

/** The mask's uniform fields; `dropoutUniforms` gives their values. */
export const DROPOUT_UNIFORMS: readonly UniformField[] = [
  { name: 'seed', type: 'u32' },
  { name: 'threshold', type: 'u32' },
  { name: 'scale', type: 'f32' },
];

/** Uniform values of a mask dropping with probability p: kept elements are scaled by 1 / (1 - p). */
export function dropoutUniforms(p: number, seed: number): { seed: number; threshold: number; scale: number } {
  return { seed, threshold: Math.round(p * DROPOUT_LEVELS), scale: p < 1 ? 1 / (1 - p) : 0 };
}

/** `fn dropout(i, v)`: v masked and scaled as element i of the mask selected by the uniforms. */
export const DROPOUT_WGSL = `fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn dropout(i: u32, v: f32) -> f32 {
  let h = pcgHash(pcgHash(i) ^ pcgHash(u.seed));
  return select(0.0, v * u.scale, (h >> 8u) >= u.threshold);
}`;

export function dropoutProgram() {
  return kernel({
    name: 'dropout',
    key: 'dropout',
    workgroupSize: [WG],
    uniforms: [{ name: 'n', type: 'u32' }, ...DROPOUT_UNIFORMS],
    inputs: { x: 'f32' },
    outputs: { y: 'f32' },
    grid: linearGrid(WG, 'n'),
    body: () => `${DROPOUT_WGSL}

${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  y[i] = dropout(i, x[i]);
}`,
  });
}
