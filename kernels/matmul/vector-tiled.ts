/**
 * Register-tiled matmul with vec4 operand loads: the register kernel's barrier-free blocks, but every load of
 * A' and B' reads four consecutive floats along whichever dimension the operand is contiguous in.
 *
 * Why: llvmpipe runs eight invocations per SIMD group and turns a storage load with a per-invocation index into
 * a loop over the lanes (a mask test, a bounds test and a scalar load each). A vec4 load is one such loop for
 * four floats, so it costs about half as much per float as four scalar loads, and loads are what bound a
 * register-tiled matmul there (measured side by side on llvmpipe, 1024^3: 2.7x the scalar 16 x 8 block).
 *
 * Each operand is read along its contiguous dimension:
 * - A (M x K, not transposed) and B^T (stored N x K) are contiguous along the depth: one vec4 covers four
 *   depth steps of one row of A' (or one column of B');
 * - A^T (stored K x M) and B (K x N) are contiguous along rows and columns: one vec4 covers four rows of A'
 *   (or four columns of B') at one depth step.
 * So an invocation's rows are consecutive, and so are its columns (unlike the register kernel's interleaved
 * columns). The depth loop takes UNROLL = 4 steps (one vec4) per iteration; when neither operand is contiguous along the depth
 * a remainder loop takes the last K % 4 steps one at a time.
 *
 * The vec4 views need the contiguous dimensions to be multiples of 4 (then every row and every batch matrix
 * starts on a vec4) and the block to be whole vec4s: `vectorFits` says when a product qualifies; the dispatch
 * runs the register kernel of the same block size otherwise. C is written as vec4s too where N is a multiple of
 * 4 (`storesFit`; the blocks' columns always are whole vec4s): on llvmpipe a store is a lane loop like a load.
 */
import { range, registerBlock, type RegisterBlock } from '../gemm/register-block.js';
import type { MatmulDims } from './configs.js';
import {
  batchOffsetsWgsl,
  epilogueWgsl,
  flagsKey,
  matmulBindings,
  matmulGrid,
  matmulUniforms,
  type MatmulFlags,
  type MatmulProgram,
} from './operands.js';
import { UNROLL, type RegisterTiling } from './register-tiled.js';

/** Whether A' (resp. B') is read four depth steps at a time (true) or four rows (columns) at a time. */
const alongDepth = (f: Pick<MatmulFlags, 'transposeA' | 'transposeB'>) => ({ a: !f.transposeA, b: f.transposeB });

/** Whether a product with these flags and sizes can run with vec4 loads in blocks of tm x tn. */
export function vectorFits(
  t: Pick<RegisterTiling, 'tm' | 'tn'>,
  f: Pick<MatmulFlags, 'transposeA' | 'transposeB'>,
  d: Pick<MatmulDims, 'm' | 'n' | 'k'>,
): boolean {
  const along = alongDepth(f);
  const aFits = along.a ? d.k % 4 === 0 : d.m % 4 === 0 && t.tm % 4 === 0;
  const bFits = along.b ? d.k % 4 === 0 : d.n % 4 === 0 && t.tn % 4 === 0;
  return aFits && bFits;
}

/** Whether C can be written four columns at a time: every row of C (and every batch matrix) starts on a vec4. */
export const storesFit = (d: Pick<MatmulDims, 'n'>) => d.n % 4 === 0;

/** Whether the depth loop needs a remainder of single steps (neither operand is read along the depth). */
export const needsRemainder = (f: MatmulFlags) => !alongDepth(f).a && !alongDepth(f).b;

/**
 * The WGSL that writes a block's sums into C, one `if` per row of the block (rows and columns past M and N are
 * skipped): one sum at a time, or four (columns a multiple of 4) as one vec4 with `wideStores`. `cOffset` is
 * prepended to every index (e.g. a batch matrix's base).
 */
export function blockStores(block: RegisterBlock, wideStores: boolean, cOffset = ''): string[] {
  const store = (i: number, j: number) => {
    const [col, index] = [`col0 + ${j}u`, `${cOffset}(row0 + ${i}u) * u.N + col0 + ${j}u`];
    const sums = wideStores
      ? `vec4<f32>(${range(4)
          .map((q) => block.at(i, j + q))
          .join(', ')})`
      : block.at(i, j);
    return `if (${col} < u.N) { ${wideStores ? 'store4' : 'store'}(${index}, ${sums}, ${col}); }`;
  };
  return range(block.rows).map(
    (i) => `if (row0 + ${i}u < u.M) {
    ${range(wideStores ? block.cols / 4 : block.cols)
      .map((g) => store(i, wideStores ? 4 * g : g))
      .join('\n    ')}
  }`,
  );
}

/** `wideStores`: write C as vec4s (only where storesFit). */
export function vectorTiledProgram(t: RegisterTiling, f: MatmulFlags, wideStores: boolean): MatmulProgram {
  const { tm, tn } = t;
  const along = alongDepth(f);
  const block = registerBlock(tm, tn);
  const result = wideStores ? 'vec4<f32>' : 'f32';
  return {
    name: 'matmul',
    key: `matmul|vector|${tm}x${tn}|${t.wgx}x${t.wgy}|${wideStores ? 'c4' : 'c1'}|${flagsKey(f)}`,
    workgroupSize: [t.wgx, t.wgy, 1],
    uniforms: matmulUniforms(f),
    ...matmulBindings(f, 'vec4<f32>', result),
    grid: matmulGrid(t.wgy * tm, t.wgx * tn, f),
    body: () => {
      // Where each operand's loads start: per row (column) along the depth, or per group of four rows (columns)
      // across it, clamped so that a block overhanging the edge re-reads the last row (column) or group.
      const aStarts = along.a
        ? range(tm).map((i) => `let aRow${i} = aBase + min(row0 + ${i}u, u.M - 1u) * u.K;`)
        : range(tm / 4).map((g) => `let aRows${g} = aBase + min(row0 + ${4 * g}u, u.M - 4u);`);
      const bStarts = along.b
        ? range(tn).map((j) => `let bCol${j} = bBase + min(col0 + ${j}u, u.N - 1u) * u.K;`)
        : range(tn / 4).map((g) => `let bCols${g} = bBase + min(col0 + ${4 * g}u, u.N - 4u);`);

      // Depth steps q = 0..steps-1 from depth `k`: the loads, then a(i, q) * b(j, q) into every accumulator.
      const steps = (n: number) => {
        const lines: string[] = [];
        if (along.a) lines.push(...range(tm).map((i) => `let av${i} = a[(aRow${i} + k) / 4u];`));
        if (along.b) lines.push(...range(tn).map((j) => `let bv${j} = b[(bCol${j} + k) / 4u];`));
        for (const q of range(n)) {
          const depth = q === 0 ? 'k' : `(k + ${q}u)`;
          if (!along.a) lines.push(...range(tm / 4).map((g) => `let aq${q}_${g} = a[(aRows${g} + ${depth} * u.M) / 4u];`));
          if (!along.b) lines.push(...range(tn / 4).map((g) => `let bq${q}_${g} = b[(bCols${g} + ${depth} * u.N) / 4u];`));
          const a = (i: number) => (along.a ? `av${i}[${q}]` : `aq${q}_${i >> 2}[${i & 3}]`);
          const b = (j: number) => (along.b ? `bv${j}[${q}]` : `bq${q}_${j >> 2}[${j & 3}]`);
          lines.push(block.step(a, b));
        }
        return `{\n    ${lines.join('\n    ')}\n  }`;
      };

      const stores = blockStores(block, wideStores, 'cBase + ');
      const remainder = needsRemainder(f)
        ? `for (; k < u.kEnd; k = k + 1u) ${steps(1)}`
        : '// Both depth-contiguous loads need K % 4 = 0, so the slices are whole quads: no remainder.';
      return `${epilogueWgsl(f, result)}

@compute @workgroup_size(${t.wgx}, ${t.wgy}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= u.M || col0 >= u.N) { return; }
  ${batchOffsetsWgsl(f, 'wid.z + u.batchBase')}
  ${[...aStarts, ...bStarts].join('\n  ')}
  ${block.declare()}
  var k = u.kStart;
  for (; k + ${UNROLL}u <= u.kEnd; k = k + ${UNROLL}u) ${steps(UNROLL)}
  ${remainder}
  ${stores.join('\n  ')}
}`;
    },
  };
}
