/**
 * Cross-entropy fused with log-softmax, and its adjoint, for a [rows, cols] input against either integer
 * labels (one per row) or a target distribution per row. The same generator gives KL divergence: KL(P || Q) is
 * the cross-entropy of P against Q plus sum P log P, and Q may come as logits or as log-probabilities.
 *
 * The forward saves three numbers per row (max m, ls = log sum exp(x - m), target mass T = sum t) so the
 * adjoint is a single pass over the row: dx = (softmax(x) * T - t) * g. For targets that sum to 1 this is the
 * familiar (softmax - target). Labels outside [0, cols) give NaN losses and gradients (a kernel cannot
 * throw, and a silent 0 would hide the bug).
 */
import type { KernelProgram, WgslScalar } from './program.js';
import { IEEE_WGSL } from './ieee.js';
import { linearMainWgsl } from './wgsl.js';
import { ELEMENT_WORKGROUP, rowLogSumExpWgsl, ROW_STATS, ROW_WORKGROUP } from './softmax.js';

export interface RowLossSpec {
  /** f32: a distribution per row ([rows, cols]); i32/u32: one class index per row ([rows]). */
  targetDtype: WgslScalar;
  /** Input rows are logits (normalised here) rather than log-probabilities. */
  logits: boolean;
  /** Add sum t log t (with 0 log 0 = 0), turning cross-entropy into KL divergence. */
  entropy: boolean;
}

/**
 * WGSL of one row's loss from `m`, `ls` (NaN for a row whose softmax is NaN) and the target: for labels,
 * -log q of the label's class (NaN for a label outside [0, cols)). Defines `loss`.
 */
export function labelLossWgsl(): string {
  return `let label = u32(in1[i]);
  var loss = nanF();
  if (label < u.cols) { loss = ls - (in0[base + label] - m); }`;
}

/** Per-row losses (out0, [rows]) and saved row statistics (out1, [rows, 3]) from input in0 and target in1. */
export function rowLossProgram(spec: RowLossSpec): KernelProgram {
  const normalise = spec.logits ? rowLogSumExpWgsl('in0', 'base') : 'let m = 0.0;\n  let ls = 0.0;';
  // -log q_j = ls - (x_j - m), written so that large logits cancel exactly before ls is added.
  const loss =
    spec.targetDtype === 'f32'
      ? `var loss = 0.0;
  var mass = 0.0;
  for (var j = 0u; j < u.cols; j = j + 1u) {
    let t = in1[base + j];
    loss = loss + t * (ls - (in0[base + j] - m));
    mass = mass + t;${spec.entropy ? '\n    if (t > 0.0) { loss = loss + t * logF(t); }' : ''}
  }`
      : `${labelLossWgsl()}
  let mass = 1.0;`;
  return {
    name: spec.entropy ? 'klDivergence' : 'crossEntropy',
    key: `rowLoss|${spec.targetDtype}|${spec.logits ? 'logits' : 'logp'}|${spec.entropy ? 'kl' : 'ce'}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: [
      { name: 'rows', type: 'u32' },
      { name: 'cols', type: 'u32' },
    ],
    inputs: ['f32', spec.targetDtype],
    outputs: ['f32', 'f32'],
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  ${normalise}
  ${loss}
  out0[i] = loss;
  out1[${ROW_STATS}u * i] = m;
  out1[${ROW_STATS}u * i + 1u] = ls;
  out1[${ROW_STATS}u * i + 2u] = mass;
}`,
  };
}

/**
 * Gradient w.r.t. the input, one invocation per row like the forward (on software adapters a row loop is much
 * faster than one invocation per element), or with `perElement` one per element (rows too long for the loop
 * budget). Inputs: target (in0), upstream gradient (in1, read at row * gStride, so a stride of 0 broadcasts a
 * scalar), then for logits the input (in2) and saved row stats (in3). dx = (softmax * T - t) * g * scale for
 * logits; dx = -t * g * scale for log-probabilities.
 */
export function rowLossBackwardProgram(targetDtype: WgslScalar, logits: boolean, perElement = false): KernelProgram {
  const labels = targetDtype !== 'f32';
  const target = labels ? 'select(0.0, 1.0, j == label)' : 'in0[base + j]';
  const s = ROW_STATS;
  const stats = logits ? `let m = in3[${s}u * r];\n  let ls = in3[${s}u * r + 1u];\n  let mass = in3[${s}u * r + 2u];` : '';
  const grad = logits ? `(expF((in2[base + j] - m) - ls) * mass - ${target}) * gs` : `-${target} * gs`;
  const workgroup = perElement ? ELEMENT_WORKGROUP : ROW_WORKGROUP;
  const header = perElement
    ? `if (i >= u.rows * u.cols) { return; }
  let r = i / u.cols;
  let j = i % u.cols;`
    : `if (i >= u.rows) { return; }
  let r = i;`;
  const write = `out0[base + j] = ${grad};`;
  return {
    name: 'rowLossBackward',
    key: `rowLossBackward|${targetDtype}|${logits ? 'logits' : 'logp'}${perElement ? '|element' : ''}`,
    workgroupSize: [workgroup],
    uniforms: [
      { name: 'rows', type: 'u32' },
      { name: 'cols', type: 'u32' },
      { name: 'gStride', type: 'u32' },
      { name: 'scale', type: 'f32' },
    ],
    inputs: logits ? [targetDtype, 'f32', 'f32', 'f32'] : [targetDtype, 'f32'],
    outputs: ['f32'],
    body: () => `${IEEE_WGSL}
${linearMainWgsl(workgroup)}
  ${header}
  let base = r * u.cols;
  ${labels ? 'let label = u32(in0[r]);' : ''}
  let gs = ${labels ? `select(nanF(), in1[r * u.gStride] * u.scale, label < u.cols)` : 'in1[r * u.gStride] * u.scale'};
  ${stats}
  ${perElement ? write : `for (var j = 0u; j < u.cols; j = j + 1u) {
    ${write}
  }`}
}`,
  };
}
