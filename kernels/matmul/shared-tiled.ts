/**
 * Workgroup-shared tiled matmul, the classic kernel for real GPUs: a workgroup computes a BM x BN tile of C
 * (BM = wgy*tm rows, BN = wgx*tn columns). For each depth slab of tk, its invocations first copy the BM x tk
 * slab of A' and the tk x BN slab of B' into workgroup memory together (coalesced: consecutive invocations read
 * consecutive addresses of whichever layout the operand has), wait at a barrier, then each accumulates its
 * tm x tn outputs from workgroup memory in registers. Every global element is read once per workgroup instead of
 * once per invocation.
 *
 * An invocation's outputs are interleaved (rows ly + i*wgy, columns lx + j*wgx) so that neighbouring
 * invocations read neighbouring workgroup-memory words and write neighbouring C elements. Slabs are
 * zero-filled past the matrix edges, so partial tiles need checks only at the loads and the store.
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

export interface SharedTiling {
  /** Rows and columns of C per invocation. */
  tm: number;
  tn: number;
  /** Invocations per workgroup along columns (x) and rows (y). */
  wgx: number;
  wgy: number;
  /** Depth of the slabs held in workgroup memory. */
  tk: number;
}

export function sharedTiledProgram(t: SharedTiling, f: MatmulFlags): MatmulProgram {
  const bm = t.wgy * t.tm;
  const bn = t.wgx * t.tn;
  const threads = t.wgx * t.wgy;
  const block = registerBlock(t.tm, t.tn);
  return {
    name: 'matmul',
    key: `matmul|shared|${t.tm}x${t.tn}|${t.wgx}x${t.wgy}|k${t.tk}|${flagsKey(f)}`,
    workgroupSize: [t.wgx, t.wgy, 1],
    uniforms: matmulUniforms(f),
    ...matmulBindings(f),
    grid: matmulGrid(bm, bn, f),
    body: () => {
      const s = operandStrides(f);
      // Copy one slab into workgroup memory: element e of `count`, spread over the invocations. `inner` is the
      // slab coordinate that is contiguous in global memory for this operand's layout.
      const slabLoad = (count: number, lines: (e: string) => string) =>
        range(Math.ceil(count / threads))
          .map((r) => {
            const e = `lid + ${r * threads}u`;
            return count % threads === 0 ? `{ ${lines(e)} }` : `if (${e} < ${count}u) { ${lines(e)} }`;
          })
          .join('\n    ');
      // A' slab: rows m of the tile, depth kk of the slab; stored as As[kk * BM_PAD + m].
      const loadA = slabLoad(bm * t.tk, (e) => {
        const [m, kk] = f.transposeA ? [`(${e}) % BM`, `(${e}) / BM`] : [`(${e}) / TK`, `(${e}) % TK`];
        return `let m = ${m}; let kk = ${kk}; let gm = tileRow + m; let gk = k0 + kk;
      var v = 0.0;
      if (gm < u.M && gk < u.kEnd) { v = a[aBase + gm * ${s.aRow} + gk * ${s.aDepth}]; }
      As[kk * BM_PAD + m] = v;`;
      });
      // B' slab: depth kk, columns n of the tile; stored as Bs[kk * BN_PAD + n].
      const loadB = slabLoad(t.tk * bn, (e) => {
        const [kk, n] = f.transposeB ? [`(${e}) % TK`, `(${e}) / TK`] : [`(${e}) / BN`, `(${e}) % BN`];
        return `let kk = ${kk}; let n = ${n}; let gk = k0 + kk; let gn = tileCol + n;
      var v = 0.0;
      if (gk < u.kEnd && gn < u.N) { v = b[bBase + gk * ${s.bDepth} + gn * ${s.bCol}]; }
      Bs[kk * BN_PAD + n] = v;`;
      });
      const stores = range(t.tm).map(
        (i) => `{ let row = tileRow + ly + ${i * t.wgy}u;
    if (row < u.M) {
      ${range(t.tn)
        .map(
          (j) => `{ let col = tileCol + lx + ${j * t.wgx}u; if (col < u.N) { store(cBase + row * u.N + col, ${block.at(i, j)}, col); } }`,
        )
        .join('\n      ')}
    } }`,
      );
      return `const BM = ${bm}u;
const BN = ${bn}u;
const TK = ${t.tk}u;
// One padding word per slab row spreads column accesses over the memory banks.
const BM_PAD = ${bm + 1}u;
const BN_PAD = ${bn + 1}u;
var<workgroup> As: array<f32, ${(bm + 1) * t.tk}>;
var<workgroup> Bs: array<f32, ${(bn + 1) * t.tk}>;
${epilogueWgsl(f)}

@compute @workgroup_size(${t.wgx}, ${t.wgy}, 1)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let lx = local.x;
  let ly = local.y;
  let tileRow = wid.y * BM;
  let tileCol = wid.x * BN;
  ${batchOffsetsWgsl(f, 'wid.z + u.batchBase')}
  ${block.declare()}
  for (var k0 = u.kStart; k0 < u.kEnd; k0 = k0 + TK) {
    ${loadA}
    ${loadB}
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk = kk + 1u) {
      ${range(t.tm)
        .map((i) => `let a${i} = As[kk * BM_PAD + ly + ${i * t.wgy}u];`)
        .join('\n      ')}
      ${range(t.tn)
        .map((j) => `let b${j} = Bs[kk * BN_PAD + lx + ${j * t.wgx}u];`)
        .join('\n      ')}
      ${block.step(
        (i) => `a${i}`,
        (j) => `b${j}`,
        '\n      ',
      )}
    }
    workgroupBarrier();
  }
  ${stores.join('\n  ')}
}`;
    },
  };
}
