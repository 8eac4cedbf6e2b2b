/**
 * Softmax and log-softmax over the last axis of a [rows, cols] view, and their adjoints. One invocation owns
 * one row and walks it in a fixed order: no workgroup barriers (very slow on software adapters) and no float
 * atomics, so results are deterministic. Stability for large logits comes from shifting by the row maximum.
 */
import type { KernelProgram } from './program.js';
import { linearMainWgsl } from './wgsl.js';

export type SoftmaxKind = 'softmax' | 'logSoftmax';

export const ROW_WORKGROUP = 64;

/**
 * WGSL that defines `m` (the row maximum) and `ls` (log of sum exp(x - m)) for the row of `input` starting at
 * `base` with `u.cols` (>= 1) elements, so log-sum-exp = m + ls. A single online pass: the running sum is
 * rescaled whenever the maximum grows, so the row is read once instead of twice.
 */
export function rowLogSumExpWgsl(input: string, base: string): string {
  return `var m = ${input}[${base}];
  var sumExp = 1.0;
  for (var j = 1u; j < u.cols; j = j + 1u) {
    let v = ${input}[${base} + j];
    if (v > m) {
      sumExp = sumExp * exp(m - v) + 1.0;
      m = v;
    } else {
      sumExp = sumExp + exp(v - m);
    }
  }
  let ls = log(sumExp);`;
}

const ROW_UNIFORMS = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
] as const;

/** out0 = softmax(in0) or logSoftmax(in0) row by row. */
export function softmaxProgram(kind: SoftmaxKind): KernelProgram {
  // (v - m) - ls keeps the precision of ls when m is large; m + ls would round it to m's ulp.
  const write = kind === 'softmax' ? 'exp((in0[base + j] - m) - ls)' : '(in0[base + j] - m) - ls';
  return {
    name: kind,
    key: `softmax|${kind}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: ROW_UNIFORMS,
    inputs: ['f32'],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  ${rowLogSumExpWgsl('in0', 'base')}
  for (var j = 0u; j < u.cols; j = j + 1u) {
    out0[base + j] = ${write};
  }
}`,
  };
}

/**
 * Adjoint from the upstream gradient in0 and the forward output in1, row by row:
 * softmax: dx = y * (g - sum(g * y)); logSoftmax: dx = g - exp(y) * sum(g).
 */
export function softmaxBackwardProgram(kind: SoftmaxKind): KernelProgram {
  const [reduceTerm, write] =
    kind === 'softmax'
      ? ['in0[base + j] * in1[base + j]', 'in1[base + j] * (in0[base + j] - acc)']
      : ['in0[base + j]', 'in0[base + j] - exp(in1[base + j]) * acc'];
  return {
    name: `${kind}Backward`,
    key: `softmaxBackward|${kind}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: ROW_UNIFORMS,
    inputs: ['f32', 'f32'],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  var acc = 0.0;
  for (var j = 0u; j < u.cols; j = j + 1u) {
    acc = acc + ${reduceTerm};
  }
  for (var j = 0u; j < u.cols; j = j + 1u) {
    out0[base + j] = ${write};
  }
}`,
  };
}
