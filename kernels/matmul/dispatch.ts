/**
 * From a product's sizes to dispatches: the batch dims are collapsed to the fewest that describe them exactly,
 * batches beyond the per-dimension workgroup limit run as further dispatches (the program's grid covers C with
 * its tiles), and a K too long for the loop budget runs as consecutive depth slices (split-K: each slice adds
 * to C, dispatches of a pass run in order).
 */
import type { KernelProgram, UniformValues } from '../program.js';
import { padDims } from '../wgsl.js';
import { LOOP_BUDGET } from '../loop-budget.js';
import { matmulProgram, runnableConfig, type MatmulConfig, type MatmulDims } from './configs.js';
import { UNROLL } from './register-tiled.js';
import { MAX_WORKGROUPS, type MatmulFlags } from './operands.js';
import { packPlan, packWindowsProgram, packedBytes, windowNames, windowOffset, windowShape, windowSpan } from './uniform-windows.js';
import { UNIFORM_WINDOW_BYTES } from '../program.js';

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
  if (c.variant === 'uniform') return Math.ceil(depth / 4);
  if (c.variant === 'shared') return Math.ceil(depth / c.tk) * (c.tk + 1);
  return Math.floor(depth / UNROLL) + (depth % UNROLL);
}

/** The longest depth slice whose trips fit the loop budget (a whole number of slabs or unrolled steps). */
export function depthSlice(c: MatmulConfig): number {
  return c.variant === 'shared' ? Math.floor(LOOP_BUDGET / (c.tk + 1)) * c.tk : UNROLL * (LOOP_BUDGET - UNROLL);
}

/**
 * What a dispatch binds: 'product' reads a, b (and the bias) and writes c; 'pack' reads operand a or b and
 * writes its packed windows; 'window' reads one window of each packed operand (at these byte offsets) and the
 * bias, and writes c.
 */
export type MatmulBinds = { kind: 'product' } | { kind: 'pack'; side: 'a' | 'b' } | { kind: 'window'; a: number; b: number };

/** One dispatch of a matmul kernel. */
export interface MatmulDispatch {
  program: KernelProgram;
  uniforms: UniformValues;
  trips: number;
  binds: MatmulBinds;
}

/** The dispatches of a product, and the packed operands' sizes in bytes where it runs on windows (else null). */
export interface MatmulPlan {
  dispatches: MatmulDispatch[];
  packed: { a: number; b: number } | null;
}

/** The buffers of a product: its operands, result and bias, and the packed operands where the plan has them. */
export interface MatmulBuffers {
  a: GPUBuffer;
  b: GPUBuffer;
  c: GPUBuffer;
  bias?: GPUBuffer;
  packedA?: GPUBuffer;
  packedB?: GPUBuffer;
}

/** The bindings of one dispatch, by the kernel's names. */
export function matmulBindings(d: MatmulDispatch, buffers: MatmulBuffers): Record<string, GPUBuffer | GPUBufferBinding> {
  const bias: Record<string, GPUBuffer> = buffers.bias ? { bias: buffers.bias } : {};
  const binds = d.binds;
  if (binds.kind === 'product') return { a: buffers.a, b: buffers.b, c: buffers.c, ...bias };
  const packed = (side: 'a' | 'b') => {
    const buffer = side === 'a' ? buffers.packedA : buffers.packedB;
    if (!buffer) throw new Error(`matmul: the plan needs a packed ${side} buffer`);
    return buffer;
  };
  if (binds.kind === 'pack') return { src: buffers[binds.side], dst: packed(binds.side) };
  const out: Record<string, GPUBuffer | GPUBufferBinding> = { c: buffers.c, ...bias };
  for (const side of ['a', 'b'] as const) {
    windowNames(side).forEach((name, c) => {
      const base = side === 'a' ? binds.a : binds.b;
      out[name] = { buffer: packed(side), offset: base + c * UNIFORM_WINDOW_BYTES, size: UNIFORM_WINDOW_BYTES };
    });
  }
  return out;
}

export function matmulDispatches(chosen: MatmulConfig, f: MatmulFlags, d: MatmulDims, batch: BatchView): MatmulPlan {
  if (d.m === 0 || d.n === 0 || d.batch === 0) return { dispatches: [], packed: null };
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
  if (c.variant === 'uniform') return windowPlan(c, program, common, d, f);
  const out: MatmulDispatch[] = [];
  const slice = depthSlice(c);
  for (let base = 0; base < d.batch; base += MAX_WORKGROUPS) {
    // K = 0 still runs one (empty) slice, which stores the epilogue of zero.
    for (let kStart = 0; kStart === 0 || kStart < d.k; kStart += slice) {
      const kEnd = Math.min(d.k, kStart + slice);
      out.push({
        program,
        trips: matmulTrips(c, kEnd - kStart),
        uniforms: { ...common, batchBase: base, kStart, kEnd },
        binds: { kind: 'product' },
      });
    }
  }
  return { dispatches: out, packed: null };
}

/**
 * A single product on uniform windows (kernels/matmul/uniform-windows.ts): pack A' and B', then one dispatch
 * per (row window, column window, depth window), the depth windows of each tile in order.
 */
function windowPlan(c: MatmulConfig, program: KernelProgram, common: UniformValues, d: MatmulDims, f: MatmulFlags): MatmulPlan {
  const w = windowShape(d);
  const dispatches: MatmulDispatch[] = (['a', 'b'] as const).map((side) => {
    const pack = packPlan(side, w, f, d);
    return { program: packWindowsProgram(pack.loads), uniforms: pack.uniforms, trips: 0, binds: { kind: 'pack', side } };
  });
  const [spanM, spanN] = [windowSpan(w, 'a'), windowSpan(w, 'b')];
  const kw = 4 * w.kw4;
  for (let mi = 0; mi < w.windowsM; mi++) {
    for (let ni = 0; ni < w.windowsN; ni++) {
      for (let ki = 0; ki < w.windowsK; ki++) {
        const [kStart, kEnd] = [ki * kw, Math.min(d.k, (ki + 1) * kw)];
        const quads = Math.ceil((kEnd - kStart) / 4);
        dispatches.push({
          program,
          trips: matmulTrips(c, kEnd - kStart),
          uniforms: {
            ...common,
            batchBase: 0,
            kStart,
            kEnd,
            rowBase: mi * spanM,
            colBase: ni * spanN,
            windowRows: Math.min(spanM, d.m - mi * spanM),
            windowCols: Math.min(spanN, d.n - ni * spanN),
            kw4: w.kw4,
            quads,
          },
          binds: { kind: 'window', a: windowOffset(w, mi, ki, 0), b: windowOffset(w, ni, ki, 0) },
        });
      }
    }
  }
  return { dispatches, packed: { a: packedBytes(w, 'a'), b: packedBytes(w, 'b') } };
}
