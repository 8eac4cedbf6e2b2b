/** Constant fills and ranges, written on the GPU (no upload for zeros/ones of any size). */
import type { KernelProgram, WgslScalar } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/** out[i] = start + i * step, converted to the dtype (step 0 gives a constant fill). */
export function rangeProgram(dtype: WgslScalar): KernelProgram {
  return {
    name: 'fill',
    key: `range|${dtype}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'start', type: 'f32' },
      { name: 'step', type: 'f32' },
    ],
    inputs: [],
    outputs: [dtype],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  out0[i] = ${dtype}(u.start + f32(i) * u.step);
}`,
  };
}
