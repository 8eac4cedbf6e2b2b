/**
 * One gather-style copy serves transpose, slice, pad and broadcast-expand: for each output coordinate c,
 *   src = base + sum_k (c_k + off_k) * stride_k,
 * and with bounds on, a coordinate with c_k + off_k outside [0, lim_k) reads zero (that is pad, the backward of slice).
 */
import { kernel, linearGrid, type WgslScalar } from './program.js';
import { dimRef, linearMainWgsl, vec4Count } from './wgsl.js';

const WG = 256;

export function stridedCopyProgram(op: string, dtype: WgslScalar, rank: number, bounded: boolean) {
  const k = vec4Count(rank);
  return kernel({
    name: op,
    key: `strided|${dtype}|r${rank}|${bounded ? 'b' : 'u'}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'base', type: 'i32' },
      { name: 'shape', type: 'vec4u', count: k },
      { name: 'off', type: 'vec4i', count: k },
      { name: 'stride', type: 'vec4i', count: k },
      { name: 'lim', type: 'vec4i', count: k },
    ],
    inputs: { x: dtype },
    outputs: { y: dtype },
    grid: linearGrid(WG, 'n'),
    body: () => {
      const lines: string[] = ['var rem = i;', 'var src = u.base;', 'var inside = true;'];
      for (let d = rank - 1; d >= 0; d--) {
        lines.push(`{ let c = i32(rem % ${dimRef('shape', d)}) + ${dimRef('off', d)}; rem = rem / ${dimRef('shape', d)};`);
        if (bounded) lines.push(`  inside = inside && c >= 0 && c < ${dimRef('lim', d)};`);
        lines.push(`  src = src + c * ${dimRef('stride', d)}; }`);
      }
      const read = bounded ? `select(${dtype}(0), x[u32(max(src, 0))], inside)` : 'x[u32(src)]';
      return `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  ${lines.join('\n  ')}
  y[i] = ${read};
}`;
    },
  });
}

/**
 * Scatter-style copy used by concat: every element of the input (viewed as [outer, axisIn, inner]) lands in the
 * output (viewed as [outer, axisOut, inner]) at axis offset `offset`.
 */
export function copyIntoAxisProgram(dtype: WgslScalar) {
  return kernel({
    name: 'concat',
    key: `copyIntoAxis|${dtype}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'inner', type: 'u32' },
      { name: 'axisIn', type: 'u32' },
      { name: 'axisOut', type: 'u32' },
      { name: 'offset', type: 'u32' },
    ],
    inputs: { x: dtype },
    outputs: { y: dtype },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let inner = i % u.inner;
  let a = (i / u.inner) % u.axisIn;
  let outer = i / (u.inner * u.axisIn);
  y[(outer * u.axisOut + a + u.offset) * u.inner + inner] = x[i];
}`,
  });
}
