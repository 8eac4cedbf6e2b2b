/**
 * Index-driven reads and their adjoints. Out-of-range indices read 0 (a GPU cannot throw); ops validate host
 * indices before upload. The backward kernels are deterministic: each input element sums the matching output
 * gradients in index order instead of scattering with float atomics.
 */
import type { KernelProgram, WgslScalar } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/** gather along an axis: x viewed as [outer, axisLen, inner], indices flat (nIdx) -> out [outer, nIdx, inner]. */
export function gatherProgram(dtype: WgslScalar, indexType: WgslScalar): KernelProgram {
  return {
    name: 'gather',
    key: `gather|${dtype}|${indexType}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'inner', type: 'u32' },
      { name: 'nIdx', type: 'u32' },
      { name: 'axisLen', type: 'u32' },
    ],
    inputs: [dtype, indexType],
    outputs: [dtype],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let p = (i / u.inner) % u.nIdx;
  let outer = i / (u.inner * u.nIdx);
  let idx = i32(in1[p]);
  if (idx < 0 || u32(idx) >= u.axisLen) { out0[i] = ${dtype}(0); return; }
  out0[i] = in0[(outer * u.axisLen + u32(idx)) * u.inner + inner];
}`,
  };
}

/** Adjoint of gather: dx[outer, a, inner] = sum over p with idx[p] == a of g[outer, p, inner]. */
export function gatherBackwardProgram(indexType: WgslScalar): KernelProgram {
  return {
    name: 'gatherBackward',
    key: `gatherBackward|${indexType}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'inner', type: 'u32' },
      { name: 'nIdx', type: 'u32' },
      { name: 'axisLen', type: 'u32' },
    ],
    inputs: ['f32', indexType],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let a = i32((i / u.inner) % u.axisLen);
  let outer = i / (u.inner * u.axisLen);
  var acc = 0.0;
  for (var p = 0u; p < u.nIdx; p = p + 1u) {
    if (i32(in1[p]) == a) { acc = acc + in0[(outer * u.nIdx + p) * u.inner + inner]; }
  }
  out0[i] = acc;
}`,
  };
}

/**
 * take-along-axis: x and idx viewed as [outer, len, inner] (idx with its own axis length m);
 * out[outer, j, inner] = x[outer, idx[outer, j, inner], inner].
 */
export function takeAlongAxisProgram(dtype: WgslScalar, indexType: WgslScalar): KernelProgram {
  return {
    name: 'takeAlongAxis',
    key: `takeAlong|${dtype}|${indexType}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'inner', type: 'u32' },
      { name: 'm', type: 'u32' },
      { name: 'axisLen', type: 'u32' },
    ],
    inputs: [dtype, indexType],
    outputs: [dtype],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let outer = i / (u.inner * u.m);
  let idx = i32(in1[i]);
  if (idx < 0 || u32(idx) >= u.axisLen) { out0[i] = ${dtype}(0); return; }
  out0[i] = in0[(outer * u.axisLen + u32(idx)) * u.inner + inner];
}`,
  };
}

/** Adjoint of take-along-axis: dx[outer, a, inner] = sum over j with idx[outer, j, inner] == a of g[outer, j, inner]. */
export function takeAlongAxisBackwardProgram(indexType: WgslScalar): KernelProgram {
  return {
    name: 'takeAlongAxisBackward',
    key: `takeAlongBackward|${indexType}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'inner', type: 'u32' },
      { name: 'm', type: 'u32' },
      { name: 'axisLen', type: 'u32' },
    ],
    inputs: ['f32', indexType],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let a = i32((i / u.inner) % u.axisLen);
  let outer = i / (u.inner * u.axisLen);
  var acc = 0.0;
  for (var j = 0u; j < u.m; j = j + 1u) {
    let k = (outer * u.m + j) * u.inner + inner;
    if (i32(in1[k]) == a) { acc = acc + in0[k]; }
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
