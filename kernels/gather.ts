/**
 * Index-driven reads and their adjoints. Out-of-range indices read 0 (a GPU cannot throw); ops validate host
 * indices before upload. The backward kernels are deterministic: each input element sums the matching output
 * gradients in index order instead of scattering with float atomics.
 */
import { kernel, linearGrid, type WgslScalar } from './program.js';
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
export function indexReadProgram(mode: IndexMode, dtype: WgslScalar, indexType: WgslScalar) {
  return kernel({
    name: mode === 'axis' ? 'gather' : 'takeAlongAxis',
    key: `indexRead|${mode}|${dtype}|${indexType}`,
    workgroupSize: [WG],
    uniforms: INDEX_UNIFORMS,
    inputs: { x: dtype, indices: indexType },
    outputs: { y: dtype },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let outer = i / (u.inner * u.m);
  let idx = i32(indices[${mode === 'axis' ? '(i / u.inner) % u.m' : 'i'}]);
  if (idx < 0 || u32(idx) >= u.axisLen) { y[i] = ${dtype}(0); return; }
  y[i] = x[(outer * u.axisLen + u32(idx)) * u.inner + inner];
}`,
  });
}

/**
 * Adjoint of indexReadProgram: dx[outer, a, inner] = sum over j with index(outer, j, inner) == a of g[outer, j, inner].
 * One dispatch covers the index positions j in [jStart, jEnd) and adds to what earlier dispatches stored, so a
 * long index list runs as several dispatches within the loop budget (dispatches of a pass run in order).
 */
export function indexReadBackwardProgram(mode: IndexMode, indexType: WgslScalar) {
  return kernel({
    name: mode === 'axis' ? 'gatherBackward' : 'takeAlongAxisBackward',
    key: `indexReadBackward|${mode}|${indexType}`,
    workgroupSize: [WG],
    uniforms: [...INDEX_UNIFORMS, { name: 'jStart', type: 'u32' }, { name: 'jEnd', type: 'u32' }],
    inputs: { dy: 'f32', indices: indexType },
    outputs: { dx: 'f32' },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let a = i32((i / u.inner) % u.axisLen);
  let outer = i / (u.inner * u.axisLen);
  var acc = 0.0;
  if (u.jStart > 0u) { acc = dx[i]; }
  for (var j = u.jStart; j < u.jEnd; j = j + 1u) {
    let k = (outer * u.m + j) * u.inner + inner;
    if (i32(indices[${mode === 'axis' ? 'j' : 'k'}]) == a) { acc = acc + dy[k]; }
  }
  dx[i] = acc;
}`,
  });
}

/** one-hot: out[i, c] = (idx[i] == c) as f32. */
export function oneHotProgram(indexType: WgslScalar) {
  return kernel({
    name: 'oneHot',
    key: `oneHot|${indexType}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'depth', type: 'u32' },
      { name: 'on', type: 'f32' },
      { name: 'off', type: 'f32' },
    ],
    inputs: { indices: indexType },
    outputs: { y: 'f32' },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let c = i32(i % u.depth);
  y[i] = select(u.off, u.on, i32(indices[i / u.depth]) == c);
}`,
  });
}
