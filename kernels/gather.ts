/**
 * Index-driven reads and their adjoints. Out-of-range indices read 0 (a GPU cannot throw); ops validate host
 * indices before upload. The backward kernels are deterministic: each input element sums the matching output
 * gradients in index order instead of scattering with float atomics.
 */
import type { KernelProgram, WgslScalar } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/**
 * How an index tensor addresses the axis. 'axis' (gather): one index per position along the axis, shared by all
 * outer/inner positions (indices flat, m of them). 'element' (take-along-axis): one index per output element
 * (indices shaped like the output).
 */
export type IndexMode = 'axis' | 'element';

const INDEX_UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'm', type: 'u32' },
  { name: 'axisLen', type: 'u32' },
] as const;

/** x viewed as [outer, axisLen, inner] -> out [outer, m, inner], reading x at the indexed axis position. */
export function indexReadProgram(mode: IndexMode, dtype: WgslScalar, indexType: WgslScalar): KernelProgram {
  return {
    name: mode === 'axis' ? 'gather' : 'takeAlongAxis',
    key: `indexRead|${mode}|${dtype}|${indexType}`,
    workgroupSize: [WG],
    uniforms: INDEX_UNIFORMS,
    inputs: [dtype, indexType],
    outputs: [dtype],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let outer = i / (u.inner * u.m);
  let idx = i32(in1[${mode === 'axis' ? '(i / u.inner) % u.m' : 'i'}]);
  if (idx < 0 || u32(idx) >= u.axisLen) { out0[i] = ${dtype}(0); return; }
  out0[i] = in0[(outer * u.axisLen + u32(idx)) * u.inner + inner];
}`,
  };
}

/**
 * Adjoint of indexReadProgram: dx[outer, a, inner] = sum over j with index(outer, j, inner) == a of g[outer, j, inner].
 * One dispatch covers the index positions j in [jStart, jEnd) and adds to what earlier dispatches stored, so a
 * long index list runs as several dispatches within the loop budget (dispatches of a pass run in order).
 */
export function indexReadBackwardProgram(mode: IndexMode, indexType: WgslScalar): KernelProgram {
  return {
    name: mode === 'axis' ? 'gatherBackward' : 'takeAlongAxisBackward',
    key: `indexReadBackward|${mode}|${indexType}`,
    workgroupSize: [WG],
    uniforms: [...INDEX_UNIFORMS, { name: 'jStart', type: 'u32' }, { name: 'jEnd', type: 'u32' }],
    inputs: ['f32', indexType],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let a = i32((i / u.inner) % u.axisLen);
  let outer = i / (u.inner * u.axisLen);
  var acc = 0.0;
  if (u.jStart > 0u) { acc = out0[i]; }
  for (var j = u.jStart; j < u.jEnd; j = j + 1u) {
    let k = (outer * u.m + j) * u.inner + inner;
    if (i32(in1[${mode === 'axis' ? 'j' : 'k'}]) == a) { acc = acc + in0[k]; }
  }
  out0[i] = acc;
}`,
  };
}

/** one-hot: out[i, c] = (idx[i] == c) as f32. */
export function oneHotProgram(indexType: WgslScalar): KernelProgram {
  return {
    name: 'oneHot',
    key: `oneHot|${indexType}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'depth', type: 'u32' },
      { name: 'on', type: 'f32' },
      { name: 'off', type: 'f32' },
    ],
    inputs: [indexType],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let c = i32(i % u.depth);
  out0[i] = select(u.off, u.on, i32(in0[i / u.depth]) == c);
}`,
  };
}
