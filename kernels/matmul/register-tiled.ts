/**
 * Barrier-free register-tiled matmul: each invocation computes a tm x tn block of C on its own, keeping the
 * block's partial sums in registers and reading A' and B' straight from storage. Per depth step it loads tm
 * values of A' and tn values of B' for tm*tn multiply-adds, so larger blocks load less per flop. There is no
 * workgroup memory and no workgroupBarrier. With a 1 x 1 block this is the plain one-output-per-invocation
 * kernel ('naive').
 *
 * Why this is the fast kernel on software adapters: SwiftShader runs invocations four to a SIMD group, turns
 * every storage load with a run-time index into a per-lane gather (vec4 loads included: each component is its
 * own gather), and implements a barrier by switching between coroutines. So what counts is multiply-adds per
 * load, i.e. large blocks; spilling the accumulators to the stack is cheaper than loading more.
 *
 * An invocation's rows are consecutive and its columns interleaved with its neighbours' (column lx + j*wgx of
 * the workgroup's tile), so neighbouring invocations read neighbouring B' elements and write neighbouring C
 * elements (coalesced on real GPUs). Edges need no checks in the depth loop: a block that overhangs the last
 * row or column reads that row or column again (clamped indices) and drops those results at the store.
 */
import { range, registerBlock } from '../gemm/register-block.js';
import {
  batchOffsetsWgsl,
  epilogueWgsl,
  flagsKey,
  matmulBindings,
  matmulGrid,
  matmulUniforms,
  operandStrides,
  type MatmulFlags,
  type MatmulProgram,
} from './operands.js';

export interface RegisterTiling {
  /** Rows and columns of C per invocation. */
  tm: number;
  tn: number;
  /** Invocations per workgroup along columns (x) and rows (y). */
  wgx: number;
  wgy: number;
}

/** Depth steps unrolled per loop iteration (the remainder runs one step at a time). */
export const UNROLL = 4;

export function registerTiledProgram(t: RegisterTiling, f: MatmulFlags): MatmulProgram {
  const { tm, tn } = t;
  const block = registerBlock(tm, tn);
  return {
    name: 'matmul',
    key: `matmul|register|${tm}x${tn}|${t.wgx}x${t.wgy}|${flagsKey(f)}`,
    workgroupSize: [t.wgx, t.wgy, 1],
    uniforms: matmulUniforms(f),
    ...matmulBindings(f),
    grid: matmulGrid(t.wgy * tm, t.wgx * tn, f),
    body: () => {
      const s = operandStrides(f);
      const row = (i: number) => (i === 0 ? 'row0' : `(row0 + ${i}u)`);
      const col = (j: number) => (j === 0 ? 'col0' : `(col0 + ${j * t.wgx}u)`);
      // Depth step kk: load a column of the A' block and a row of the B' block, accumulate their outer product.
      // Every sum runs over k in increasing order.
      const step = (kk: number) => {
        const depth = kk === 0 ? 'k' : `(k + ${kk}u)`;
        return [
          `{ let ka = ${depth} * ${s.aDepth}; let kb = ${depth} * ${s.bDepth};`,
          ...range(tm).map((i) => `  let a${i} = a[aRow${i} + ka];`),
          ...range(tn).map((j) => `  let b${j} = b[bCol${j} + kb];`),
          `  ${block.step(
            (i) => `a${i}`,
            (j) => `b${j}`,
            '\n      ',
          )}`,
          '}',
        ].join('\n    ');
      };
      const stores = range(tm).map(
        (i) => `if (${row(i)} < u.M) {
    ${range(tn)
      .map((j) => `if (${col(j)} < u.N) { store(cBase + ${row(i)} * u.N + ${col(j)}, ${block.at(i, j)}, ${col(j)}); }`)
      .join('\n    ')}
  }`,
      );
      return `${epilogueWgsl(f)}

@compute @workgroup_size(${t.wgx}, ${t.wgy}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = gid.y * ${tm}u;
  let col0 = wid.x * ${t.wgx * tn}u + lid.x;
  if (row0 >= u.M || col0 >= u.N) { return; }
  ${batchOffsetsWgsl(f, 'wid.z + u.batchBase')}
  ${range(tm)
    .map((i) => `let aRow${i} = aBase + min(${row(i)}, u.M - 1u) * ${s.aRow};`)
    .join('\n  ')}
  ${range(tn)
    .map((j) => `let bCol${j} = bBase + min(${col(j)}, u.N - 1u) * ${s.bCol};`)
    .join('\n  ')}
  ${block.declare()}
  var k = u.kStart;
  for (; k + ${UNROLL}u <= u.kEnd; k = k + ${UNROLL}u) {
    ${range(UNROLL).map(step).join('\n    ')}
  }
  for (; k < u.kEnd; k = k + 1u) {
    ${step(0)}
  }
  ${stores.join('\n  ')}
}`;
    },
  };
}
