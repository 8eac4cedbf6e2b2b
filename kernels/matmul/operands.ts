/**
 * What every matmul kernel shares: how it sees its operands and what it does after the dot products.
 *
 * A kernel computes C[b] = epilogue(A'[b] @ B'[b]) for every batch index b, where A' is A or A^T and B' is B or
 * B^T, read in place (the transposes are index arithmetic, never a copy). Operands are contiguous row-major:
 * A is [M, K] (or [K, M] when transposed), B is [K, N] (or [N, K]), C is [M, N]. The batch index space is the
 * broadcast of the operands' leading dims, collapsed on the host to as few dims as keep it exact; each batch
 * dim carries its own A and B strides (0 where that operand is broadcast).
 */
import { scalarUniform, type KernelProgram, type UniformField, type UniformValues, type Workgroups } from '../program.js';
import { DROPOUT_UNIFORMS, DROPOUT_WGSL } from '../dropout.js';
import { IEEE_WGSL } from '../ieee.js';
import { decodeIndexWgsl, vec4Count } from '../wgsl.js';

/** Everything about a matmul that changes the WGSL text, apart from the variant's tile sizes. */
export interface MatmulFlags {
  transposeA: boolean;
  transposeB: boolean;
  /** Rank of the collapsed batch index space (0: a single product). */
  batchRank: number;
  /** Add a bias of shape [N] to every row. */
  bias: boolean;
  /** Apply max(x, 0) after the bias. */
  relu: boolean;
  /** Then the seeded dropout mask of kernels/dropout.ts (element i of C as element i of the mask). */
  dropout: boolean;
}

export function flagsKey(f: MatmulFlags): string {
  const epilogue = `${f.bias ? 'bias' : ''}${f.relu ? 'relu' : ''}${f.dropout ? 'drop' : ''}`;
  return `${f.transposeA ? 't' : 'n'}${f.transposeB ? 't' : 'n'}|b${f.batchRank}|${epilogue}`;
}

/**
 * Uniforms of every matmul kernel. `batchBase` offsets the batch index so batches beyond the 65535 workgroup
 * limit of the z dimension run as further dispatches. [kStart, kEnd) is the depth range of this dispatch:
 * a long K runs as consecutive slices (split-K, for the loop budget), each adding to what the previous left in C.
 */
export function matmulUniforms(f: MatmulFlags): UniformField[] {
  const k = vec4Count(f.batchRank);
  return [
    { name: 'M', type: 'u32' },
    { name: 'N', type: 'u32' },
    { name: 'K', type: 'u32' },
    { name: 'batchBase', type: 'u32' },
    { name: 'kStart', type: 'u32' },
    { name: 'kEnd', type: 'u32' },
    { name: 'batchShape', type: 'vec4u', count: k },
    { name: 'aBatchStride', type: 'vec4u', count: k },
    { name: 'bBatchStride', type: 'vec4u', count: k },
    ...(f.dropout ? DROPOUT_UNIFORMS : []),
  ];
}

/** A matmul kernel binds A' (`a`), B' (`b`) and, with a fused bias, `bias`; it writes C (`c`). */
export type MatmulProgram = KernelProgram<{ a: OperandElement; b: OperandElement; bias?: 'f32' }, { c: OperandElement }>;

/** How a kernel sees A, B and C: as floats, or as vec4s of four consecutive floats (the 'vector' kernel). */
export type OperandElement = 'f32' | 'vec4<f32>';

export function matmulBindings(
  f: MatmulFlags,
  operands: OperandElement = 'f32',
  result: OperandElement = 'f32',
): Pick<MatmulProgram, 'inputs' | 'outputs'> {
  return { inputs: { a: operands, b: operands, ...(f.bias ? { bias: 'f32' as const } : {}) }, outputs: { c: result } };
}

/** The largest workgroup count WebGPU guarantees per dimension. */
export const MAX_WORKGROUPS = 65535;

/**
 * The grid of a kernel whose workgroup covers `rows` x `cols` of C: x over column tiles, y over row tiles, z over
 * the batches from `batchBase` on (at most MAX_WORKGROUPS of them; later ones run as further dispatches).
 */
export function matmulGrid(rows: number, cols: number, f: MatmulFlags): (u: UniformValues) => Workgroups {
  return (u) => {
    const shape = u.batchShape as readonly number[];
    let batches = 1;
    for (let d = 0; d < f.batchRank; d++) batches *= shape[d]!;
    const z = Math.min(MAX_WORKGROUPS, batches - scalarUniform(u, 'batchBase'));
    return [Math.ceil(scalarUniform(u, 'N') / cols), Math.ceil(scalarUniform(u, 'M') / rows), z];
  };
}

/** Strides (as WGSL expressions) of A' along its rows (m) and its depth (k), and of B' along depth and columns (n). */
export function operandStrides(f: MatmulFlags): { aRow: string; aDepth: string; bDepth: string; bCol: string } {
  return {
    aRow: f.transposeA ? '1u' : 'u.K',
    aDepth: f.transposeA ? 'u.M' : '1u',
    bDepth: f.transposeB ? '1u' : 'u.N',
    bCol: f.transposeB ? 'u.K' : '1u',
  };
}

/** Declares `aBase`, `bBase` and `cBase`, the first element of this batch's A, B and C, from the batch index. */
export function batchOffsetsWgsl(f: MatmulFlags, batchIndex: string): string {
  const decode = decodeIndexWgsl('batch', f.batchRank, 'batchShape', [
    { acc: 'aOff', strides: 'aBatchStride' },
    { acc: 'bOff', strides: 'bBatchStride' },
  ]);
  return `let batch = ${batchIndex};
  var aBase = 0u;
  var bBase = 0u;
  { ${decode}
    aBase = aOff;
    bBase = bOff; }
  let cBase = batch * u.M * u.N;`;
}

/**
 * `fn store(index, v, col)`: writes a finished dot product (over this dispatch's depth slice) to C. A slice
 * after the first adds what the earlier slices stored; the last slice applies the fused bias, activation (a
 * relu that keeps NaN, as PyTorch's does) and dropout mask (`fn finish`).
 *
 * With C seen as vec4s, `fn store4(index, v, col)` writes four consecutive sums of a row at once, `index` and
 * `col` being the first one's (a multiple of 4): a store on llvmpipe is a loop over the SIMD lanes like a load,
 * so this writes four floats for the price of one, which counts where the depth is short (the weight gradients'
 * K is the batch) and every invocation stores a whole block after few steps.
 */
export function epilogueWgsl(f: MatmulFlags, result: OperandElement = 'f32'): string {
  const epilogue = [
    ...(f.bias ? ['r = r + bias[col];'] : []),
    ...(f.relu ? ['r = reluF(r);'] : []),
    ...(f.dropout ? ['r = dropout(index, r);'] : []),
  ];
  const helpers = [...(f.relu ? [IEEE_WGSL] : []), ...(f.dropout ? [DROPOUT_WGSL] : [])];
  if (epilogue.length > 0) {
    helpers.push(`fn finish(index: u32, v: f32, col: u32) -> f32 {
  var r = v;
  ${epilogue.join('\n  ')}
  return r;
}`);
  }
  const wide = result === 'vec4<f32>';
  const at = wide ? 'index / 4u' : 'index';
  const finished = wide
    ? `vec4<f32>(${['x', 'y', 'z', 'w'].map((e, q) => (q === 0 ? `finish(index, r.x, col)` : `finish(index + ${q}u, r.${e}, col + ${q}u)`)).join(', ')})`
    : 'finish(index, r, col)';
  const lines = ['var r = v;', `if (u.kStart > 0u) { r = c[${at}] + r; }`];
  if (epilogue.length > 0) lines.push(`if (u.kEnd == u.K) { r = ${finished}; }`);
  return `${helpers.map((h) => `${h}\n`).join('')}fn ${wide ? 'store4' : 'store'}(index: u32, v: ${result}, col: u32) {
  ${lines.join('\n  ')}
  c[${at}] = r;
}`;
}
