/**
 * Seeded dropout. The keep/drop decision for element i is a pure function of (seed, i): a counter-based hash
 * (the PCG output permutation applied to one LCG step, a bijection of u32) in integer arithmetic, so every
 * adapter draws the same mask and the backward pass regenerates it instead of storing it.
 *
 * Element i is kept when the top 24 bits of hash(hash(i) ^ hash(seed)) are >= threshold = round(p * 2^24);
 * kept elements are scaled by 1 / (1 - p). The same kernel applied to the upstream gradient is the adjoint.
 */
import { kernel, linearGrid } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/** Resolution of the keep probability: decisions compare 24-bit hash values against p * 2^24. */
export const DROPOUT_LEVELS = 1 << 24;

export function dropoutProgram() {
  return kernel({
    name: 'dropout',
    key: 'dropout',
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'seed', type: 'u32' },
      { name: 'threshold', type: 'u32' },
      { name: 'scale', type: 'f32' },
    ],
    inputs: { x: 'f32' },
    outputs: { y: 'f32' },
    grid: linearGrid(WG, 'n'),
    body: () => `fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let h = pcgHash(pcgHash(i) ^ pcgHash(u.seed));
  y[i] = select(0.0, x[i] * u.scale, (h >> 8u) >= u.threshold);
}`,
  });
}
