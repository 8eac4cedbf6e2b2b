/** Constant fills and ranges, written on the GPU (no upload for zeros/ones of any size). */
import { linearGrid, type KernelProgram, type WgslScalar } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/**
 * out[i] = start + i * step in the output dtype (step 0 gives a constant fill). Integer dtypes compute in
 * integers, so values beyond 2^24 stay exact (u32 wraps, so a negative step counts down).
 */
export function rangeProgram(dtype: WgslScalar): KernelProgram<Record<string, never>, { out: WgslScalar }> {
  return {
    name: 'fill',
    key: `range|${dtype}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'start', type: dtype },
      { name: 'step', type: dtype },
    ],
    inputs: {},
    outputs: { out: dtype },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  out[i] = u.start + ${dtype}(i) * u.step;
}`,
  };
}
