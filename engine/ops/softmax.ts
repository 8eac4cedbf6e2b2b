/**
 * The softmax family: softmax and logSoftmax along any axis, cross-entropy fused with log-softmax (integer
 * labels or target distributions), KL divergence, and their gradient rules. Inputs are checked here, before
 * any GPU work. The losses' gradients w.r.t. their input come from one fused kernel; targets get none.
 */
import { defineOp, type GradRule } from '../graph.js';
import { fmt, normalizeAxis, sameShape } from '../shape.js';
import { viewTensor, type Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { softmaxBackwardProgram, softmaxFromStatsProgram, softmaxProgram, ROW_STATS, type SoftmaxKind } from '../../kernels/softmax.js';
import { rowLossBackwardProgram, rowLossProgram, type RowLossSpec } from '../../kernels/cross-entropy.js';
import { ROW_PARTIAL, rowStatsCombineProgram, rowStatsPartialProgram, rowStatsTrips, type RowStatsSpec } from '../../kernels/row-stats.js';
import { LOOP_BUDGET } from '../../kernels/loop-budget.js';
import { exp, mul, sub } from './elementwise.js';
import { transpose } from './layout.js';
import { mean, sum } from './reduce.js';

function rowsOf(x: Tensor): { rows: number; cols: number } {
  const cols = x.shape[x.rank - 1]!;
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

/**
 * Rows up to this long are walked by one invocation each (two passes over the row: 2 * cols loop iterations);
 * longer rows are split into chunks of ROW_CHUNK (or more, so a row never has more than LOOP_BUDGET / 2 chunks).
 */
const LONG_ROW = LOOP_BUDGET / 2;
const ROW_CHUNK = 4096;

function isLong(cols: number): boolean {
  return cols > LONG_ROW;
}

/**
 * Row statistics [rows, ROW_STATS] of a long-row input, and for losses the per-row losses: two passes (see
 * kernels/row-stats.ts). `target` is given for losses.
 */
function longRowStatistics(spec: RowStatsSpec, x: Tensor, target: Tensor | null): { stats: Tensor; loss: Tensor | null } {
  const { rows, cols } = rowsOf(x);
  const chunkLen = Math.max(ROW_CHUNK, Math.ceil(cols / LONG_ROW));
  const chunks = Math.ceil(cols / chunkLen);
  const uniforms = { rows, cols, chunks, chunkLen };
  const trips = rowStatsTrips(spec, chunkLen, chunks);
  const distribution = spec !== null && spec.targetDtype === 'f32';
  const { partials } = runProgram(rowStatsPartialProgram(spec), {
    inputs: { x, ...(distribution ? { targets: target! } : {}) },
    outputs: { partials: [rows, chunks, ROW_PARTIAL] },
    uniforms,
    trips: trips.partial,
  });
  const { stats, losses = null } = runProgram(rowStatsCombineProgram(spec), {
    inputs: { partials, ...(spec === null ? {} : { x, targets: target! }) },
    outputs: { stats: [rows, ROW_STATS], ...(spec === null ? {} : { losses: [rows] }) },
    uniforms,
    trips: trips.combine,
  });
  partials.dispose();
  return { stats, loss: losses };
}

function softmaxLastAxis(kind: SoftmaxKind, x: Tensor): Tensor {
  const { rows, cols } = rowsOf(x);
  let out: Tensor;
  if (!isLong(cols) || x.size === 0) {
    out = runProgram(softmaxProgram(kind), { inputs: { x }, outputs: { y: x.shape }, uniforms: { rows, cols }, trips: 2 * cols }).y;
  } else {
    const { stats } = longRowStatistics(null, x, null);
    out = runProgram(softmaxFromStatsProgram(kind), { inputs: { x, stats }, outputs: { y: x.shape }, uniforms: { rows, cols } }).y;
    stats.dispose();
  }
  return softmaxOps[kind].record(out, [x], {}, {});
}

function softmaxAlong(kind: SoftmaxKind, x: Tensor, axis: number): Tensor {
  x.buffer(kind);
  if (x.dtype !== 'f32') throw new Error(`${kind}: expects an f32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  if (x.rank === 0) throw new Error(`${kind}: expects a tensor of rank >= 1, got a scalar`);
  const a = normalizeAxis(kind, axis, x.rank);
  const last = x.rank - 1;
  if (a === last) return softmaxLastAxis(kind, x);
  // The kernel works on contiguous rows: swap the axis to the end and back (a swap is its own inverse).
  const perm = x.shape.map((_, i) => (i === a ? last : i === last ? a : i));
  const moved = transpose(x, perm);
  const y = softmaxLastAxis(kind, moved);
  const out = transpose(y, perm);
  if (!out.requiresGrad) {
    moved.dispose();
    y.dispose();
  }
  return out;
}

/** exp(x) / sum(exp(x)) along `axis`, shifted by the maximum so large logits neither overflow nor underflow. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong('softmax', x, axis);
}

/** x - log(sum(exp(x))) along `axis`, computed stably (finite for logits of any magnitude). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong('logSoftmax', x, axis);
}

function softmaxRule(kind: SoftmaxKind): GradRule<Record<string, never>, Record<string, never>> {
  return (g, _node, out) => {
    const { rows, cols } = rowsOf(out);
    if (isLong(cols)) {
      // Long rows: the row sum is a chunked reduction, the rest elementwise (softmax: y (g - sum g y);
      // logSoftmax: g - exp(y) sum g).
      const rowSum = (t: Tensor) => sum(t, -1, { keepDims: true });
      return [kind === 'softmax' ? mul(out, sub(g, rowSum(mul(g, out)))) : sub(g, mul(exp(out), rowSum(g)))];
    }
    return [
      runProgram(softmaxBackwardProgram(kind), {
        inputs: { dy: g, y: out },
        outputs: { dx: out.shape },
        uniforms: { rows, cols },
        trips: 2 * cols,
      }).dx,
    ];
  };
}
const softmaxOps = {
  softmax: defineOp({ name: 'softmax', grad: softmaxRule('softmax') }),
  logSoftmax: defineOp({ name: 'logSoftmax', grad: softmaxRule('logSoftmax') }),
};

// ---- losses ------------------------------------------------------------------------------------------

/** 'mean' averages the per-row losses over the batch (PyTorch's 'batchmean' for KL); 'none' keeps them, [batch]. */
export type LossReduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  reduction?: LossReduction;
}

export interface KlDivergenceOptions extends LossOptions {
  /** The input holds log-probabilities log Q (as from logSoftmax) rather than logits. Default false. */
  logProbs?: boolean;
}

interface RowLossCall {
  op: 'crossEntropy' | 'klDivergence';
  input: Tensor;
  target: Tensor;
  logits: boolean;
  reduction: LossReduction;
}

const REDUCTIONS: readonly LossReduction[] = ['mean', 'sum', 'none'];

function checkRowLoss(call: RowLossCall, allowLabels: boolean): void {
  const { op, input, target } = call;
  input.buffer(op);
  target.buffer(op);
  const what = call.logits ? 'logits' : 'log-probabilities';
  if (input.dtype !== 'f32' || input.rank !== 2) {
    throw new Error(`${op}: expects f32 ${what} of shape [batch, classes], got ${input.dtype} ${fmt(input.shape)}`);
  }
  const [b, c] = input.shape as [number, number];
  // An empty batch is allowed (its mean loss is NaN, as in PyTorch); classes are not optional.
  if (c === 0) throw new Error(`${op}: ${what} ${fmt(input.shape)} must have at least one class`);
  if (!REDUCTIONS.includes(call.reduction))
    throw new Error(`${op}: reduction must be one of ${REDUCTIONS.join(', ')}, got '${call.reduction}'`);
  const expected = allowLabels
    ? `labels (i32 or u32 [${b}]) or target probabilities (f32 [${b}, ${c}])`
    : `target probabilities (f32 [${b}, ${c}])`;
  if (allowLabels && target.rank === 1) {
    if (target.dtype === 'f32') {
      throw new Error(`${op}: labels must be an i32 or u32 tensor, got f32 ${fmt(target.shape)}; expected ${expected}`);
    }
    if (target.shape[0] !== b) {
      throw new Error(
        `${op}: got ${target.shape[0]} labels ${fmt(target.shape)} for ${b} rows of ${what} ${fmt(input.shape)}; expected ${expected}`,
      );
    }
    return;
  }
  if (target.dtype !== 'f32' || !sameShape(target.shape, input.shape)) {
    throw new Error(`${op}: target ${target.dtype} ${fmt(target.shape)} does not fit ${what} ${fmt(input.shape)}; expected ${expected}`);
  }
}

/** Per-row losses, reduced as asked, recorded with the saved row statistics for the fused gradient. */
function rowLoss(call: RowLossCall): Tensor {
  const { op, input, target, logits, reduction } = call;
  const [rows, cols] = input.shape as [number, number];
  const spec: RowLossSpec = { targetDtype: target.dtype, logits, entropy: op === 'klDivergence' };
  let loss: Tensor;
  let stats: Tensor;
  if (isLong(cols) && rows > 0) {
    ({ loss, stats } = longRowStatistics(spec, input, target) as { loss: Tensor; stats: Tensor });
  } else {
    // One pass for the row statistics (when normalising) and one over the targets (for distributions).
    const trips = (logits ? cols : 0) + (target.dtype === 'f32' ? cols : 0);
    ({ losses: loss, stats } = runProgram(rowLossProgram(spec), {
      inputs: { x: input, targets: target },
      outputs: { losses: [rows], stats: [rows, ROW_STATS] },
      uniforms: { rows, cols },
      trips,
    }));
  }
  let out = loss;
  if (reduction !== 'none') {
    out = reduction === 'sum' ? sum(loss) : mean(loss);
    loss.dispose();
  }
  return rowLossOps[op].record(out, [input], { reduction, logits }, { target: viewTensor(target, target.shape), stats });
}

/**
 * Cross-entropy of `logits` [batch, classes] against `target`: integer labels (i32 or u32 [batch]) or target
 * distributions (f32 [batch, classes], e.g. label smoothing or M-LOCK's uniform targets). Fused with
 * log-softmax, so it is finite for logits of any magnitude. Labels outside [0, classes) give NaN.
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  const call: RowLossCall = { op: 'crossEntropy', input: logits, target, logits: true, reduction: options.reduction ?? 'mean' };
  checkRowLoss(call, true);
  return rowLoss(call);
}

/**
 * KL(P || Q) per row, sum_j p_j (log p_j - log q_j) with 0 log 0 = 0, where P is `target` (f32 [batch,
 * classes]) and Q is given by `input`: logits (default; Q = softmax(input)) or log-probabilities
 * (`logProbs: true`). The gradient flows to `input` only.
 */
export function klDivergence(input: Tensor, target: Tensor, options: KlDivergenceOptions = {}): Tensor {
  const call: RowLossCall = { op: 'klDivergence', input, target, logits: !options.logProbs, reduction: options.reduction ?? 'mean' };
  checkRowLoss(call, false);
  return rowLoss(call);
}

/** How the loss was reduced and whether the input holds logits; the node saves the targets and the row statistics. */
type RowLossRule = GradRule<{ reduction: LossReduction; logits: boolean }, { target: Tensor; stats: Tensor }>;

const rowLossRule: RowLossRule = (g, { inputs: [input], attrs: { reduction, logits }, saved: { target, stats } }) => {
  const [rows, cols] = input!.shape as [number, number];
  const perElement = isLong(cols);
  const { dx } = runProgram(rowLossBackwardProgram(target.dtype, logits, perElement), {
    inputs: { targets: target, dy: g, ...(logits ? { x: input!, stats } : {}) },
    outputs: { dx: input!.shape },
    trips: perElement ? 0 : cols,
    // 'none' has one upstream gradient per row; the reduced forms broadcast one scalar.
    uniforms: { rows, cols, gStride: reduction === 'none' ? 1 : 0, scale: reduction === 'mean' ? 1 / rows : 1 },
  });
  return [dx];
};
const rowLossOps = {
  crossEntropy: defineOp({ name: 'crossEntropy', grad: rowLossRule }),
  klDivergence: defineOp({ name: 'klDivergence', grad: rowLossRule }),
};
