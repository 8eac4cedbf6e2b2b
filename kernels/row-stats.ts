/**
 * Softmax statistics of rows too long for one invocation each (the loop budget): a first pass reduces each
 * (row, chunk) pair, a second combines a row's chunks in order. Deterministic, no barriers, no atomics.
 *
 * Per chunk the first pass keeps ROW_PARTIAL numbers: its maximum mc (NaN when the chunk holds a NaN),
 * sum exp(x - mc), and for target distributions the mass T = sum t, sum t (x - x0) with x0 the chunk's first
 * value (0 where that is not finite; the shift keeps large logits from swamping the sum), x0, and sum t log t.
 * The second pass rescales them to the row's maximum m and writes the row statistics (m, ls = log sum
 * exp(x - m), T) that the softmax and loss kernels read, and for losses the per-row loss: ls - (x_label - m)
 * for labels, T ls - sum t (x - m) (+ sum t log t for KL) for targets. Rows follow PyTorch: a NaN, a +inf or
 * only -inf values make ls (and the loss) NaN.
 */
import { kernel, linearGrid } from './program.js';
import { IEEE_WGSL } from './ieee.js';
import { linearMainWgsl } from './wgsl.js';
import { onlineLogSumExpWgsl, ROW_STATS, ROW_WORKGROUP } from './softmax.js';
import { labelLossWgsl, type RowLossSpec } from './cross-entropy.js';

/** Numbers kept per (row, chunk). */
export const ROW_PARTIAL = 6;

/** Softmax needs no target; a loss has one (labels or distributions). */
export type RowStatsSpec = RowLossSpec | null;

const UNIFORMS = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
  { name: 'chunks', type: 'u32' },
  { name: 'chunkLen', type: 'u32' },
] as const;

const distribution = (spec: RowStatsSpec) => spec !== null && spec.targetDtype === 'f32';

const specKey = (spec: RowStatsSpec) =>
  spec === null ? 'softmax' : `${spec.targetDtype}|${spec.logits ? 'logits' : 'logp'}|${spec.entropy ? 'kl' : 'ce'}`;

/** Loop iterations per invocation of each pass. */
export function rowStatsTrips(spec: RowStatsSpec, chunkLen: number, chunks: number): { partial: number; combine: number } {
  return { partial: chunkLen * (distribution(spec) ? 2 : 1), combine: 2 * chunks };
}

/** Inputs: x and, for distributions, the targets. Output: partials [rows, chunks, ROW_PARTIAL]. */
export function rowStatsPartialProgram(spec: RowStatsSpec) {
  const targets = distribution(spec)
    ? `// The shift is the chunk's first value, or 0 where that is not finite.
  let x0 = select(x[begin], 0.0, isInfF(x[begin]) || isNanF(x[begin]));
  var mass = 0.0;
  var dot = 0.0;
  var ent = 0.0;
  for (var k = begin; k < end; k = k + 1u) {
    let t = targets[k];
    mass = mass + t;
    dot = dot + t * (x[k] - x0);${spec!.entropy ? '\n    if (t > 0.0) { ent = ent + t * logF(t); }' : ''}
  }`
    : 'let x0 = 0.0;\n  let mass = 0.0;\n  let dot = 0.0;\n  let ent = 0.0;';
  return kernel({
    name: spec === null ? 'softmax' : spec.entropy ? 'klDivergence' : 'crossEntropy',
    key: `rowStatsPartial|${distribution(spec) ? specKey(spec) : 'lse'}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: UNIFORMS,
    inputs: { x: 'f32', ...(distribution(spec) ? { targets: 'f32' } : {}) },
    outputs: { partials: 'f32' },
    grid: linearGrid(ROW_WORKGROUP, 'rows', 'chunks'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows * u.chunks) { return; }
  let row = i / u.chunks;
  let chunk = i % u.chunks;
  let begin = row * u.cols + chunk * u.chunkLen;
  let end = row * u.cols + min((chunk + 1u) * u.chunkLen, u.cols);
  ${onlineLogSumExpWgsl('x', 'begin', 'end')}
  ${targets}
  let p = ${ROW_PARTIAL}u * i;
  partials[p] = select(m, nanF(), bad);
  partials[p + 1u] = sumExp;
  partials[p + 2u] = mass;
  partials[p + 3u] = dot;
  partials[p + 4u] = x0;
  partials[p + 5u] = ent;
}`,
  });
}

/**
 * Inputs: the partials, and for losses x and the targets. Outputs: the row stats [rows, ROW_STATS], and for
 * losses the per-row losses [rows].
 */
export function rowStatsCombineProgram(spec: RowStatsSpec) {
  const logits = spec === null || spec.logits;
  const labels = spec !== null && spec.targetDtype !== 'f32';
  const loss = spec === null ? '' : labels ? labelLossWgsl() : `let loss = mass * ls - dot${spec.entropy ? ' + ent' : ''};`;
  return kernel({
    name: spec === null ? 'softmax' : spec.entropy ? 'klDivergence' : 'crossEntropy',
    key: `rowStatsCombine|${specKey(spec)}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: UNIFORMS,
    inputs: { partials: 'f32', ...(spec === null ? {} : { x: 'f32', targets: spec.targetDtype }) },
    outputs: { stats: 'f32', ...(spec === null ? {} : { losses: 'f32' }) },
    grid: linearGrid(ROW_WORKGROUP, 'rows'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  let pb = i * u.chunks * ${ROW_PARTIAL}u;
  var mMax = -infF();
  var bad = false;
  for (var c = 0u; c < u.chunks; c = c + 1u) {
    let mc = partials[pb + c * ${ROW_PARTIAL}u];
    bad = bad || isNanF(mc);
    if (mc > mMax) { mMax = mc; }
  }
  bad = bad || isInfF(mMax);
  let m = ${logits ? 'mMax' : '0.0'};
  var sumExp = 0.0;
  var mass = 0.0;
  var dot = 0.0;
  var ent = 0.0;
  for (var c = 0u; c < u.chunks; c = c + 1u) {
    let q = pb + c * ${ROW_PARTIAL}u;
    sumExp = sumExp + partials[q + 1u] * expF(partials[q] - mMax);
    mass = mass + partials[q + 2u];
    dot = dot + partials[q + 3u] + partials[q + 2u] * (partials[q + 4u] - m);
    ent = ent + partials[q + 5u];
  }
  let ls = ${logits ? 'select(log(sumExp), nanF(), bad)' : '0.0'};
  ${loss}
  ${spec === null ? '' : 'losses[i] = loss;'}
  stats[${ROW_STATS}u * i] = m;
  stats[${ROW_STATS}u * i + 1u] = ls;
  stats[${ROW_STATS}u * i + 2u] = ${labels || spec === null ? '1.0' : 'mass'};
}`,
  });
}
