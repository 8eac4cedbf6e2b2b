/**
 * Softmax and log-softmax over the last axis of a [rows, cols] view, and their adjoints. One invocation owns
 * one row and walks it in a fixed order: no workgroup barriers (very slow on software adapters) and no float
 * atomics, so results are deterministic. Stability for large logits comes from shifting by the row maximum.
 */
import { kernel, linearGrid } from './program.js';
import { IEEE_WGSL } from './ieee.js';
import { linearMainWgsl } from './wgsl.js';

export type SoftmaxKind = 'softmax' | 'logSoftmax';

/** Workgroup sizes of the row kernels (one invocation per row) and of the element kernels (one per element). */
export const ROW_WORKGROUP = 64;
export const ELEMENT_WORKGROUP = 256;

/** Saved statistics per row: the maximum m, ls = log sum exp(x - m), and the target mass (1 for softmax). */
export const ROW_STATS = 3;

/**
 * WGSL that defines `m` (the maximum) and `sumExp` (sum of exp(x - m)) of `input` over [begin, end) (not
 * empty), and `bad`: a NaN was seen. A single online pass: the running sum is rescaled whenever the maximum
 * grows, so the row is read once instead of twice. While the maximum is -inf, further -inf values add nothing
 * (their exp(x - m) would be exp(NaN)), so leading -inf values do not spoil a row with finite values.
 */
export function onlineLogSumExpWgsl(input: string, begin: string, end: string): string {
  return `var m = ${input}[${begin}];
  var sumExp = 1.0;
  var bad = isNanF(m);
  for (var j = ${begin} + 1u; j < ${end}; j = j + 1u) {
    let v = ${input}[j];
    bad = bad || isNanF(v);
    if (v > m) {
      sumExp = sumExp * expF(m - v) + 1.0;
      m = v;
    } else if (!isInfF(m)) {
      sumExp = sumExp + expF(v - m);
    }
  }`;
}

/**
 * WGSL that defines `m` (the row maximum) and `ls` (log of sum exp(x - m)) for the row of `input` starting at
 * `base` with `u.cols` (>= 1) elements, so log-sum-exp = m + ls, and `bad`. As in PyTorch, a row with a NaN, an
 * infinite maximum (+inf anywhere) or only -inf values gives NaN: `ls` is NaN and `bad` is set.
 */
export function rowLogSumExpWgsl(input: string, base: string): string {
  return `${onlineLogSumExpWgsl(input, base, `${base} + u.cols`)}
  bad = bad || isInfF(m);
  let ls = select(log(sumExp), nanF(), bad);`;
}

const ROW_UNIFORMS = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
] as const;

/** softmax or log-softmax of one value `v` from its row's maximum `m` and `ls` (as WGSL). */
function softmaxValueWgsl(kind: SoftmaxKind, v: string): string {
  return kind === 'softmax' ? `expF((${v} - m) - ls)` : `(${v} - m) - ls`;
}

/** y = softmax(x) or logSoftmax(x) row by row (rows short enough for one invocation each). */
export function softmaxProgram(kind: SoftmaxKind) {
  // (v - m) - ls keeps the precision of ls when m is large; m + ls would round it to m's ulp.
  const write = `select(${softmaxValueWgsl(kind, 'x[base + j]')}, nanF(), bad)`;
  return kernel({
    name: kind,
    key: `softmax|${kind}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: ROW_UNIFORMS,
    inputs: { x: 'f32' },
    outputs: { y: 'f32' },
    grid: linearGrid(ROW_WORKGROUP, 'rows'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  ${rowLogSumExpWgsl('x', 'base')}
  for (var j = 0u; j < u.cols; j = j + 1u) {
    y[base + j] = ${write};
  }
}`,
  });
}

/**
 * Adjoint from the upstream gradient dy and the forward output y, row by row:
 * softmax: dx = y * (dy - sum(dy * y)); logSoftmax: dx = dy - exp(y) * sum(dy).
 */
export function softmaxBackwardProgram(kind: SoftmaxKind) {
  const [reduceTerm, write] =
    kind === 'softmax'
      ? ['dy[base + j] * y[base + j]', 'y[base + j] * (dy[base + j] - acc)']
      : ['dy[base + j]', 'dy[base + j] - expF(y[base + j]) * acc'];
  return kernel({
    name: `${kind}Backward`,
    key: `softmaxBackward|${kind}`,
    workgroupSize: [ROW_WORKGROUP],
    uniforms: ROW_UNIFORMS,
    inputs: { dy: 'f32', y: 'f32' },
    outputs: { dx: 'f32' },
    grid: linearGrid(ROW_WORKGROUP, 'rows'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ROW_WORKGROUP)}
  if (i >= u.rows) { return; }
  let base = i * u.cols;
  var acc = 0.0;
  for (var j = 0u; j < u.cols; j = j + 1u) {
    acc = acc + ${reduceTerm};
  }
  for (var j = 0u; j < u.cols; j = j + 1u) {
    dx[base + j] = ${write};
  }
}`,
  });
}

/**
 * y = softmax(x) or logSoftmax(x), one invocation per element, from row statistics computed beforehand
 * (stats: [rows, ROW_STATS] holding m and ls, with ls NaN for a row that gives NaN): the form for long rows.
 */
export function softmaxFromStatsProgram(kind: SoftmaxKind) {
  return kernel({
    name: kind,
    key: `softmax|${kind}|fromStats`,
    workgroupSize: [ELEMENT_WORKGROUP],
    uniforms: ROW_UNIFORMS,
    inputs: { x: 'f32', stats: 'f32' },
    outputs: { y: 'f32' },
    grid: linearGrid(ELEMENT_WORKGROUP, 'rows', 'cols'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(ELEMENT_WORKGROUP)}
  if (i >= u.rows * u.cols) { return; }
  let row = i / u.cols;
  let m = stats[${ROW_STATS}u * row];
  let ls = stats[${ROW_STATS}u * row + 1u];
  y[i] = select(${softmaxValueWgsl(kind, 'x[i]')}, nanF(), isNanF(ls));
}`,
  });
}
