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
import { kernel, linearGrid, type WgslScalar } from './program.js';
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
  return `let label = u32(targets[i]);
  var loss = nanF();
  if (label < u.cols) { loss = ls - (x[base + label] - m); }`;
}

/** Per-row losses ([rows]) and saved row statistics ([rows, ROW_STATS]) from the input x and the targets. */
export function rowLossProgram(spec: RowLossSpec) {
  const normalise = spec.logits ? rowLogSumExpWgsl('x', 'base') : 'let m = 0.0;\n  let ls = 0.0;';
  // -log q_j = ls - (x_j - m), written so that large logits cancel exactly before ls is added.
  const loss =
    spec.targetDtype === 'f32'
      ? `var loss = 0.0;
  var mass = 0.0;
  for (var j = 0u; j < u.cols; j = j + 1u) {
    let t = targets[base + j];
    loss = loss + t * (ls - (x[base + j] - m));
    mass = mass + t;${spec.entropy ? '\n    if (t > 0.0) { loss = loss + t * logF(t); }' : ''}
  }`
      : `${labelLossWgsl()}
  let mass = 1.0;`;
  return kernel({
    name: spec.entropy ? 'klDivergence' : 'crossEntropy',
    key: `rowLoss|${spec.targetDtype}|${spec.logits ? 'logits' : 'logp'}|${spec.entropy ? 'kl' : 'ce'}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: [
      { name: 'rows', type: 'u32' },
      { name: 'cols', type: 'u32' },
    ],
    inputs: { x: 'f32', targets: spec.targetDtype },
    outputs: { losses: 'f32', stats: 'f32' },
    grid: linearGrid(ROW_WORKGROUP, 'rows'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  ${normalise}
  ${loss}
  losses[i] = loss;
  stats[${ROW_STATS}u * i] = m;
  stats[${ROW_STATS}u * i + 1u] = ls;
  stats[${ROW_STATS}u * i + 2u] = mass;
}`,
  });
}

/**
 * Gradient w.r.t. the input, one invocation per row like the forward (on software adapters a row loop is much
 * faster than one invocation per element), or with `perElement` one per element (rows too long for the loop
 * budget). Inputs: the targets, the upstream gradient dy (read at row * gStride, so a stride of 0 broadcasts a
 * scalar), then for logits the input x and the saved row stats. dx = (softmax * T - t) * g * scale for
 * logits; dx = -t * g * scale for log-probabilities.
 */
export function rowLossBackwardProgram(targetDtype: WgslScalar, logits: boolean, perElement = false) {
  const labels = targetDtype !== 'f32';
  const target = labels ? 'select(0.0, 1.0, j == label)' : 'targets[base + j]';
  const s = ROW_STATS;
  const rowStats = logits ? `let m = stats[${s}u * r];\n  let ls = stats[${s}u * r + 1u];\n  let mass = stats[${s}u * r + 2u];` : '';
  const grad = logits ? `(expF((x[base + j] - m) - ls) * mass - ${target}) * gs` : `-${target} * gs`;
  const workgroup = perElement ? ELEMENT_WORKGROUP : ROW_WORKGROUP;
  const header = perElement
    ? `if (i >= u.rows * u.cols) { return; }
  let r = i / u.cols;
  let j = i % u.cols;`
    : `if (i >= u.rows) { return; }
  let r = i;`;
  const write = `dx[base + j] = ${grad};`;
  return kernel({
    name: 'rowLossBackward',
    key: `rowLossBackward|${targetDtype}|${logits ? 'logits' : 'logp'}${perElement ? '|element' : ''}`,
    workgroupSize: [workgroup],
    uniforms: [
      { name: 'rows', type: 'u32' },
      { name: 'cols', type: 'u32' },
      { name: 'gStride', type: 'u32' },
      { name: 'scale', type: 'f32' },
    ],
    inputs: { targets: targetDtype, dy: 'f32', ...(logits ? { x: 'f32', stats: 'f32' } : {}) },
    outputs: { dx: 'f32' },
    grid: perElement ? linearGrid(workgroup, 'rows', 'cols') : linearGrid(workgroup, 'rows'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(workgroup)}
  ${header}
  let base = r * u.cols;
  ${labels ? 'let label = u32(targets[r]);' : ''}
  let gs = ${labels ? `select(nanF(), dy[r * u.gStride] * u.scale, label < u.cols)` : 'dy[r * u.gStride] * u.scale'};
  ${rowStats}
  ${
    perElement
      ? write
      : `for (var j = 0u; j < u.cols; j = j + 1u) {
    ${write}
  }`
  }
}`,
  });
}
