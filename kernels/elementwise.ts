/**
 * Elementwise map kernels with NumPy broadcasting: out[i] = EXPR(v0, v1, v2) where each vi is read from
 * operand i: its buffer `x{i}` (contiguous, or broadcast through strides), or a scalar held in the uniform block. One generator serves
 * unary, binary and ternary ops; the expression and the operand modes are part of the cache key, shapes are not.
 */
import { linearGrid, type Bindings, type KernelProgram, type UniformField, type WgslScalar } from './program.js';
import { IEEE_WGSL } from './ieee.js';
import { decodeIndexWgsl, linearMainWgsl, vec4Count } from './wgsl.js';

/** How an operand is read. 'same': contiguous with the output's shape; 'strided': broadcast via strides; 'scalar': uniform. */
export type OperandMode = 'same' | 'strided' | 'scalar';

export interface MapSpec {
  op: string;
  /** WGSL expression over v0..v{k-1} (typed as their dtype) and `s` (a f32 scalar parameter); may call the IEEE_WGSL helpers. */
  expr: string;
  operands: readonly { dtype: WgslScalar; mode: OperandMode }[];
  outDtype: WgslScalar;
  /** Output rank (used only when some operand is strided). */
  rank: number;
}

const WG = 256;

/** Operand i's buffer, when it has one, is bound as `x{i}`; the output is `out`. */
export function mapProgram(spec: MapSpec): KernelProgram<Bindings, { out: WgslScalar }> {
  const strided = spec.operands.some((o) => o.mode === 'strided');
  const rank = strided ? spec.rank : 0;
  const k = vec4Count(rank);
  const uniforms: UniformField[] = [
    { name: 'n', type: 'u32' },
    { name: 's', type: 'f32' },
  ];
  spec.operands.forEach((o, i) => {
    if (o.mode === 'scalar') uniforms.push({ name: `c${i}`, type: o.dtype });
  });
  if (strided) {
    uniforms.push({ name: 'shape', type: 'vec4u', count: k });
    spec.operands.forEach((o, i) => {
      if (o.mode === 'strided') uniforms.push({ name: `st${i}`, type: 'vec4u', count: k });
    });
  }
  const inputs: Record<string, WgslScalar> = {};
  spec.operands.forEach((o, i) => {
    if (o.mode !== 'scalar') inputs[`x${i}`] = o.dtype;
  });
  // The full mode name: 'same', 'strided' and 'scalar' share their first letter.
  const modes = spec.operands.map((o) => `${o.dtype}:${o.mode}`).join(',');
  return {
    name: spec.op,
    key: `map|${spec.expr}|${modes}|${spec.outDtype}|r${rank}`,
    workgroupSize: [WG],
    uniforms,
    inputs,
    outputs: { out: spec.outDtype },
    grid: linearGrid(WG, 'n'),
    body: () => {
      const decode = strided
        ? decodeIndexWgsl(
            'i',
            rank,
            'shape',
            spec.operands.flatMap((o, i) => (o.mode === 'strided' ? [{ acc: `o${i}`, strides: `st${i}` }] : [])),
          )
        : '';
      const loads = spec.operands.map((o, i) => {
        if (o.mode === 'scalar') return `let v${i} = u.c${i};`;
        return `let v${i} = x${i}[${o.mode === 'same' ? 'i' : `o${i}`}];`;
      });
      return `${IEEE_WGSL}
${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let s = u.s;
  ${decode}
  ${loads.join('\n  ')}
  out[i] = ${spec.expr};
}`;
    },
  };
}
