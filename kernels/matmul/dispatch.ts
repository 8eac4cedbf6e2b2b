/**
 * From a product's sizes to dispatches: the batch dims are collapsed to the fewest that describe them exactly,
 * batches beyond the per-dimension workgroup limit run as further dispatches (the program's grid covers C with
 * its tiles), and a K too long for the loop budget runs as consecutive depth slices (split-K: each slice adds
 * to C, dispatches of a pass run in order).
 */
import type { UniformValues } from '../program.js';
import { padDims } from '../wgsl.js';
import { LOOP_BUDGET } from '../loop-budget.js';
import { matmulProgram, runnableConfig, type MatmulConfig, type MatmulDims } from './configs.js';
import { UNROLL } from './register-tiled.js';
import { MAX_WORKGROUPS, type MatmulFlags, type MatmulProgram } from './operands.js';

/** The batch index space: its shape and, per dim, the element stride of A and of B (0 where broadcast). */
export interface BatchView {
  shape: number[];
  aStride: number[];
  bStride: number[];
}

/**
 * Collapse broadcast batch dims. `aBatch` and `bBatch` are the operands' leading dims (any rank, NumPy-style
 * broadcast against `outBatch`); `aMatrix`/`bMatrix` are the element counts of one matrix of each. Dims of size
 * 1 are dropped and neighbouring dims whose strides chain for both operands are merged, so the usual cases
 * (no batch, equal batches, one operand unbatched) become rank 0 or 1 and share compiled kernels.
 */
export function collapseBatch(
  outBatch: readonly number[],
  aBatch: readonly number[],
  bBatch: readonly number[],
  aMatrix: number,
  bMatrix: number,
): BatchView {
  const strides = (own: readonly number[], matrix: number): number[] => {
    const padded = [...new Array<number>(outBatch.length - own.length).fill(1), ...own];
    const s = new Array<number>(outBatch.length);
    let acc = matrix;
    for (let i = outBatch.length - 1; i >= 0; i--) {
      s[i] = padded[i] === 1 ? 0 : acc;
      acc *= padded[i]!;
    }
    return s;
  };
  const aAll = strides(aBatch, aMatrix);
  const bAll = strides(bBatch, bMatrix);
  const view: BatchView = { shape: [], aStride: [], bStride: [] };
  outBatch.forEach((d, i) => {
    if (d === 1) return;
    const last = view.shape.length - 1;
    // The previous kept dim steps over exactly `d` of this one in both operands: one dim of size prev * d.
    if (last >= 0 && view.aStride[last] === aAll[i]! * d && view.bStride[last] === bAll[i]! * d) {
      view.shape[last]! *= d;
      view.aStride[last] = aAll[i]!;
      view.bStride[last] = bAll[i]!;
      return;
    }
    view.shape.push(d);
    view.aStride.push(aAll[i]!);
    view.bStride.push(bAll[i]!);
  });
  return view;
}

/** Loop iterations of one invocation over a depth slice of `depth` (all its loops together). */
export function matmulTrips(c: MatmulConfig, depth: number): number {
  if (c.variant === 'shared') return Math.ceil(depth / c.tk) * (c.tk + 1);
  return Math.floor(depth / UNROLL) + (depth % UNROLL);
}

/** The longest depth slice whose trips fit the loop budget (a whole number of slabs or unrolled steps). */
export function depthSlice(c: MatmulConfig): number {
  return c.variant === 'shared' ? Math.floor(LOOP_BUDGET / (c.tk + 1)) * c.tk : UNROLL * (LOOP_BUDGET - UNROLL);
}

/** One dispatch of a matmul kernel. */
export interface MatmulDispatch {
  program: MatmulProgram;
  uniforms: UniformValues;
  trips: number;
}

export function matmulDispatches(chosen: MatmulConfig, f: MatmulFlags, d: MatmulDims, batch: BatchView): MatmulDispatch[] {
  if (d.m === 0 || d.n === 0 || d.batch === 0) return [];
  const c = runnableConfig(chosen, f, d);
  const program = matmulProgram(c, f, d);
  const rank = batch.shape.length;
  const common = {
    M: d.m,
    N: d.n,
    K: d.k,
    batchShape: padDims(batch.shape, rank),
    aBatchStride: padDims(batch.aStride, rank),
    bBatchStride: padDims(batch.bStride, rank),
  };
  const out: MatmulDispatch[] = [];
  const slice = depthSlice(c);
  for (let base = 0; base < d.batch; base += MAX_WORKGROUPS) {
    // K = 0 still runs one (empty) slice, which stores the epilogue of zero.
    for (let kStart = 0; kStart === 0 || kStart < d.k; kStart += slice) {
      const kEnd = Math.min(d.k, kStart + slice);
      out.push({ program, trips: matmulTrips(c, kEnd - kStart), uniforms: { ...common, batchBase: base, kStart, kEnd } });
    }
  }
  return out;
}
