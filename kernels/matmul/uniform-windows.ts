/**
 * The 'uniform' matmul: both operands read from uniform buffers. On llvmpipe a storage load with a
 * per-invocation index is a loop over the SIMD lanes, while a uniform-buffer load with one is a single vector
 * gather; in the GEMM inner-loop probe (bench/load-probes.ts: an 8 x 8 block, vec4 loads along the depth) the
 * block ran about 1.5x faster with both operands in uniform buffers than from storage, and only 1.2x with one of
 * them.
 *
 * A uniform binding holds at most 64 KiB, so the operands are first packed (one pass each, `packWindowsProgram`)
 * into windows: a window of A' is a group of rows (4R of them) over a slice of the depth (kw = 4 * kw4 steps),
 * spread over WINDOW_BINDINGS = 4 bindings by row class (row r of the window lives in binding r % 4 at local row
 * r / 4, each local row holding its kw depth steps contiguous, zero past the depth and past the last row). An
 * invocation's block rows are consecutive from a multiple of 4, so block row i always reads binding i % 4: which
 * binding a load uses is known when the kernel is generated. B' is packed the same way by columns. Every
 * dispatch multiplies one window of A' by one window of B' (the bindings sit at the windows' offsets in the
 * packed buffers) into the rows and columns they cover, and the depth windows of one output tile add into C in
 * order like split-K slices (the fused epilogue with the last). Each dispatch loops kw4 times at most.
 *
 * Only single products (no batch) run here; batched ones run the 'vector' configuration of the same block.
 */
import { range, registerBlock } from '../gemm/register-block.js';
import { grid1d, scalarUniform, UNIFORM_WINDOW_VEC4S, type KernelProgram, type UniformValues } from '../program.js';
import { linearMainWgsl } from '../wgsl.js';
import type { MatmulDims } from './configs.js';
import { epilogueWgsl, flagsKey, matmulUniforms, type MatmulFlags } from './operands.js';
import type { RegisterTiling } from './register-tiled.js';
import { blockStores } from './vector-tiled.js';

/** Bindings per operand window: four 64 KiB uniform bindings (with `u` and B's four, 9 of the 12 allowed). */
export const WINDOW_BINDINGS = 4;
export const WINDOW_BYTES = WINDOW_BINDINGS * UNIFORM_WINDOW_VEC4S * 16;

/** How a product is cut into windows: local rows per binding (of A' and of B'), kw4 depth quads per row. */
export interface WindowShape {
  /** Local rows per binding of A' (rowsA) and B' (rowsB); a window covers 4 times as many rows (columns). */
  rowsA: number;
  rowsB: number;
  /** Depth quads per local row; a window covers 4 * kw4 depth steps. */
  kw4: number;
  /** Windows along M, N and K. */
  windowsM: number;
  windowsN: number;
  windowsK: number;
}

/** Local rows per binding for an operand with this many rows: a multiple of 4 (a 16-row block spans 4), at most 64. */
const localRows = (rows: number) => Math.min(64, Math.max(4, 4 * Math.ceil(rows / 16)));

/**
 * Each operand's local rows follow its own rows (M for A', N for B'), so a small side packs no padding rows, up
 * to 64 (256-row windows); kw4 fills a 4,096-vec4 binding of the taller one, but no more than the depth needs.
 */
export function windowShape(d: Pick<MatmulDims, 'm' | 'n' | 'k'>): WindowShape {
  const [rowsA, rowsB] = [localRows(d.m), localRows(d.n)];
  const kw4 = Math.max(1, Math.min(Math.floor(UNIFORM_WINDOW_VEC4S / Math.max(rowsA, rowsB)), Math.ceil(d.k / 4)));
  return {
    rowsA,
    rowsB,
    kw4,
    windowsM: Math.ceil(d.m / (WINDOW_BINDINGS * rowsA)),
    windowsN: Math.ceil(d.n / (WINDOW_BINDINGS * rowsB)),
    windowsK: Math.max(1, Math.ceil(d.k / (4 * kw4))),
  };
}

/** Rows (columns) of A' (B') one window covers. */
export const windowSpan = (w: WindowShape, side: 'a' | 'b') => WINDOW_BINDINGS * (side === 'a' ? w.rowsA : w.rowsB);

/** Bytes of the packed A' (resp. B'): every window whole, as its bindings need. */
export const packedBytes = (w: WindowShape, side: 'a' | 'b') => (side === 'a' ? w.windowsM : w.windowsN) * w.windowsK * WINDOW_BYTES;

/** Binding `c` of window (`outer`, `ki`) of a packed operand: its byte offset. */
export const windowOffset = (w: WindowShape, outer: number, ki: number, c: number) =>
  ((outer * w.windowsK + ki) * WINDOW_BINDINGS + c) * UNIFORM_WINDOW_VEC4S * 16;

/**
 * How the pack reads its operand: 'depth4' where the operand is contiguous along the depth and K is a multiple of
 * 4 (one vec4 per row), 'rows4' where it is contiguous along its rows and their count is a multiple of 4 (one
 * vec4 of four rows per depth step), 'scalar' otherwise.
 */
export type PackLoads = 'depth4' | 'rows4' | 'scalar';

/** Packs one operand into windows: reads `src`, writes `dst` (vec4s). */
export type PackProgram = KernelProgram<{ src: 'f32' | 'vec4<f32>' }, { dst: 'vec4<f32>' }>;

const PACK_WG = 64;

/**
 * One invocation per (window, local row, depth quad): the four rows r0 + c (c = 0..3, one per binding) over four
 * depth steps from k0, written as one vec4 to each binding. The element (r, k) is src[r * rowStride + k *
 * depthStride]; zero past `rows` or `depth`. Loop-free; two integer divisions per 16 floats.
 */
export function packWindowsProgram(loads: PackLoads): PackProgram {
  const element = (c: number, e: number) =>
    `select(0.0, src[(r0 + ${c}u) * u.rowStride + (k0 + ${e}u) * u.depthStride], r0 + ${c}u < u.rows && k0 + ${e}u < u.depth)`;
  const values =
    loads === 'depth4'
      ? // Whole quads (K % 4 = 0): row r0 + c's four depth steps are one vec4 (the index is clamped, then masked).
        range(4).map(
          (c) =>
            `let v${c} = select(vec4<f32>(0.0), src[(min(r0 + ${c}u, u.rows - 1u) * u.rowStride + k0) / 4u], r0 + ${c}u < u.rows && k0 < u.depth);`,
        )
      : loads === 'rows4'
        ? // Whole row quads (rows % 4 = 0): depth step k0 + e of rows r0..r0+3 is one vec4; transposed in registers.
          [
            ...range(4).map(
              (e) =>
                `let q${e} = select(vec4<f32>(0.0), src[(min(k0 + ${e}u, u.depth - 1u) * u.depthStride + min(r0, u.rows - 4u)) / 4u], r0 < u.rows && k0 + ${e}u < u.depth);`,
            ),
            ...range(4).map((c) => `let v${c} = vec4<f32>(q0[${c}], q1[${c}], q2[${c}], q3[${c}]);`),
          ]
        : range(4).map(
            (c) =>
              `let v${c} = vec4<f32>(${range(4)
                .map((e) => element(c, e))
                .join(', ')});`,
          );
  return {
    name: 'matmul',
    key: `matmul|uniform-pack|${loads}`,
    workgroupSize: [PACK_WG, 1, 1],
    uniforms: [
      { name: 'rows', type: 'u32' },
      { name: 'depth', type: 'u32' },
      { name: 'rowStride', type: 'u32' },
      { name: 'depthStride', type: 'u32' },
      { name: 'localRows', type: 'u32' },
      { name: 'kw4', type: 'u32' },
      { name: 'windowsK', type: 'u32' },
      { name: 'total', type: 'u32' },
    ],
    inputs: { src: loads === 'scalar' ? 'f32' : 'vec4<f32>' },
    outputs: { dst: 'vec4<f32>' },
    grid: (u) => grid1d(scalarUniform(u, 'total'), PACK_WG),
    body: () => `${linearMainWgsl(PACK_WG)}
  if (i >= u.total) { return; }
  let kq = i % u.kw4;
  let t = i / u.kw4;
  let lr = t % u.localRows;
  let w = t / u.localRows;
  let ki = w % u.windowsK;
  let outer = w / u.windowsK;
  let r0 = outer * ${WINDOW_BINDINGS}u * u.localRows + ${WINDOW_BINDINGS}u * lr;
  let k0 = ki * u.kw4 * 4u + 4u * kq;
  ${values.join('\n  ')}
  let at = w * ${WINDOW_BINDINGS * UNIFORM_WINDOW_VEC4S}u + lr * u.kw4 + kq;
  ${range(WINDOW_BINDINGS)
    .map((c) => `dst[at + ${c * UNIFORM_WINDOW_VEC4S}u] = v${c};`)
    .join('\n  ')}
}`,
  };
}

/** The pack of A' (side 'a') or B' ('b') of a product with these flags and sizes: how it loads, and its uniforms. */
export function packPlan(
  side: 'a' | 'b',
  w: WindowShape,
  f: Pick<MatmulFlags, 'transposeA' | 'transposeB'>,
  d: MatmulDims,
): { loads: PackLoads; uniforms: UniformValues } {
  const a = side === 'a';
  const rows = a ? d.m : d.n;
  // A'(r, k) = A[r, k] or A[k, r]; B'(k, n) = B[k, n] or B[n, k].
  const alongDepth = a ? !f.transposeA : f.transposeB;
  const [rowStride, depthStride] = alongDepth ? [d.k, 1] : [1, rows];
  const loads: PackLoads = alongDepth ? (d.k % 4 === 0 ? 'depth4' : 'scalar') : rows % 4 === 0 ? 'rows4' : 'scalar';
  const local = a ? w.rowsA : w.rowsB;
  const windows = (a ? w.windowsM : w.windowsN) * w.windowsK;
  return {
    loads,
    uniforms: {
      rows,
      depth: d.k,
      rowStride,
      depthStride,
      localRows: local,
      kw4: w.kw4,
      windowsK: w.windowsK,
      total: windows * local * w.kw4,
    },
  };
}

/** The window kernel's bindings: a0..a3, b0..b3 (windows), the bias; it writes C. */
export type UniformMatmulProgram = KernelProgram;

export const windowNames = (side: 'a' | 'b') => range(WINDOW_BINDINGS).map((c) => `${side}${c}`);

/** `wideStores`: write C as vec4s (N a multiple of 4). */
export function uniformTiledProgram(t: RegisterTiling, f: MatmulFlags, wideStores: boolean): UniformMatmulProgram {
  const { tm, tn } = t;
  if (tm % WINDOW_BINDINGS !== 0 || tn % WINDOW_BINDINGS !== 0 || f.batchRank !== 0)
    throw new Error(`matmul: the uniform kernel needs blocks of multiples of ${WINDOW_BINDINGS} and no batch`);
  const block = registerBlock(tm, tn);
  const result = wideStores ? 'vec4<f32>' : 'f32';
  const windows = Object.fromEntries([...windowNames('a'), ...windowNames('b')].map((n) => [n, 'window' as const]));
  return {
    name: 'matmul',
    key: `matmul|uniform|${tm}x${tn}|${t.wgx}x${t.wgy}|${wideStores ? 'c4' : 'c1'}|${flagsKey(f)}`,
    workgroupSize: [t.wgx, t.wgy, 1],
    uniforms: [
      ...matmulUniforms(f),
      { name: 'rowBase', type: 'u32' },
      { name: 'colBase', type: 'u32' },
      { name: 'windowRows', type: 'u32' },
      { name: 'windowCols', type: 'u32' },
      { name: 'kw4', type: 'u32' },
      { name: 'quads', type: 'u32' },
    ],
    inputs: { ...windows, ...(f.bias ? { bias: 'f32' as const } : {}) },
    outputs: { c: result },
    grid: (u) => [Math.ceil(scalarUniform(u, 'windowCols') / (t.wgx * tn)), Math.ceil(scalarUniform(u, 'windowRows') / (t.wgy * tm)), 1],
    body: () => {
      // Block row i is local row (lr0 + i) / 4 of binding i % 4; the same for columns.
      const aStarts = range(tm / WINDOW_BINDINGS).map((g) => `let aRow${g} = ((lr0 >> 2u) + ${g}u) * u.kw4;`);
      const bStarts = range(tn / WINDOW_BINDINGS).map((g) => `let bCol${g} = ((lc0 >> 2u) + ${g}u) * u.kw4;`);
      const loads = [
        ...range(tm).map((i) => `let av${i} = a${i % WINDOW_BINDINGS}[aRow${Math.floor(i / WINDOW_BINDINGS)} + q];`),
        ...range(tn).map((j) => `let bv${j} = b${j % WINDOW_BINDINGS}[bCol${Math.floor(j / WINDOW_BINDINGS)} + q];`),
      ];
      const steps = range(4).map((s) =>
        block.step(
          (i) => `av${i}[${s}]`,
          (j) => `bv${j}[${s}]`,
        ),
      );
      const stores = blockStores(block, wideStores);
      return `${epilogueWgsl(f, result)}

@compute @workgroup_size(${t.wgx}, ${t.wgy}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let lr0 = gid.y * ${tm}u;
  let lc0 = gid.x * ${tn}u;
  let row0 = u.rowBase + lr0;
  let col0 = u.colBase + lc0;
  if (lr0 >= u.windowRows || lc0 >= u.windowCols) { return; }
  ${[...aStarts, ...bStarts].join('\n  ')}
  ${block.declare()}
  for (var q = 0u; q < u.quads; q = q + 1u) {
    ${[...loads, ...steps].join('\n    ')}
  }
  ${stores.join('\n  ')}
}`;
    },
  };
}
