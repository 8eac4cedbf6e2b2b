/**
 * What every conv2d kernel knows about the problem: the NCHW input [N, C, H, W], the weights
 * [O, C/groups, KH, KW], the output [N, O, OH, OW], and stride, top/left padding and dilation per axis.
 * Only the top/left padding reaches the kernels: any bottom/right padding ('same' may be asymmetric) is
 * implied by OH and OW, since taps that fall outside the input read zero.
 * All of it travels as i32 uniforms, so kernels do signed index arithmetic without casts and a new shape
 * never recompiles.
 */
import { range, unroll, type RegisterBlock } from '../gemm/register-block.js';
import { linearGrid, type UniformField, type UniformValues } from '../program.js';

export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

const FIELDS = ['N', 'C', 'H', 'W', 'O', 'KH', 'KW', 'OH', 'OW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'G', 'Cg', 'Og'] as const;

export const CONV_GEOMETRY_UNIFORMS: readonly UniformField[] = FIELDS.map((name) => ({ name, type: 'i32' }));

export function convGeometryUniforms(g: ConvGeometry): UniformValues {
  return {
    N: g.N,
    C: g.C,
    H: g.H,
    W: g.W,
    O: g.O,
    KH: g.KH,
    KW: g.KW,
    OH: g.OH,
    OW: g.OW,
    sh: g.strideH,
    sw: g.strideW,
    ph: g.padTop,
    pw: g.padLeft,
    dh: g.dilationH,
    dw: g.dilationW,
    G: g.groups,
    Cg: g.C / g.groups,
    Og: g.O / g.groups,
  };
}

/** One digit of a thread index: its name, its extent (a WGSL expression) and the tile size it counts in. */
export type ThreadDigit = [name: string, extent: string, scale?: number];

/**
 * Splits the linear thread index `t` into digits, fastest first (t = d0 + extent0 * (d1 + extent1 * ...)); each
 * digit is multiplied by its scale (a tile's first row or channel), and what remains after the last is `rest`.
 */
export function decodeThreadWgsl(digits: readonly ThreadDigit[], rest: string): string {
  const lines = ['var r = t;'];
  for (const [name, extent, scale] of digits) {
    lines.push(`let ${name} = ${scale === undefined ? `r % ${extent}` : `(r % ${extent}) * ${scale}`};`, `r = r / ${extent};`);
  }
  lines.push(`let ${rest} = r;`);
  return lines.join('\n  ');
}

/** The grid of the conv kernels: one invocation per thread of the `threads` uniform. */
export const convGrid = (workgroupSize: number) => linearGrid(workgroupSize, 'threads');

/**
 * The general walk's loop over the reduction's channels (forward: input channels `c`; input gradient: output
 * channels `o`), shared by both passes: per channel, the tile's masked pixel values a{j} from
 * `pixels[{index}{j}]` (the index advancing by `pixelStep`), its weights b{i} from `weights[pw{i}]` (advancing
 * by `weightStep`), then one depth step of the block. The caller declares ok{j}, {index}{j} and pw{i}.
 */
export function channelLoopWgsl(o: {
  channel: string;
  pixels: string;
  index: string;
  pixelStep: string;
  weightStep: string;
  block: RegisterBlock;
}): string {
  const { channel: c, index: p, block } = o;
  return `for (var ${c} = u.kStart; ${c} < u.kEnd; ${c} = ${c} + 1) {
        ${unroll(block.rows, (j) => `let a${j} = select(0.0, ${o.pixels}[${p}${j}], ok${j});\n        ${p}${j} = ${p}${j} + ${o.pixelStep};`, '\n        ')}
        ${unroll(block.cols, (i) => `let b${i} = weights[pw${i}];\n        pw${i} = pw${i} + ${o.weightStep};`, '\n        ')}
        ${block.step(
          (j) => `a${j}`,
          (i) => `b${i}`,
          '\n        ',
        )}
      }`;
}

/** Entry point of the conv kernels: a linear i32 thread index `t` over a `convGrid` dispatch, and an early exit. */
export function convMainWgsl(workgroupSize: number): string {
  return `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = i32(gid.x + gid.y * nwg.x * ${workgroupSize}u);
  if (t >= u.threads) { return; }`;
}

/**
 * The slice [kStart, kEnd) of the reduction's channel loop (input channels for the forward, output channels for
 * the input gradient) that one dispatch covers: a group with too many channels for the loop budget runs as
 * consecutive slices, each adding to what the previous stored (dispatches of a pass run in order).
 */
export const CHANNEL_SLICE_UNIFORMS: readonly UniformField[] = [
  { name: 'kStart', type: 'i32' },
  { name: 'kEnd', type: 'i32' },
];

/** WGSL that stores `value` at output[index] after the earlier slices' sum, adding `last` (e.g. a bias) in the last slice. */
export function sliceStoreWgsl(output: string, index: string, value: string, channels: string, last = ''): string {
  return `{ let at = ${index};
    var v = ${value};
    if (u.kStart > 0) { v = v + ${output}[at]; }${last ? `\n    if (u.kEnd == ${channels}) { v = v + ${last}; }` : ''}
    ${output}[at] = v; }`;
}

/**
 * One tap's weights b{i} for the tile's `channels` channels from weights packed with those channels contiguous
 * (the row-strip walks with `packedWeights`): `channels` / 4 vec4 loads from quad index `quad` on, where the
 * OIHW layout takes one scalar load per channel. On llvmpipe every storage load is a loop over the SIMD lanes,
 * even when all lanes read the same weight, so this cuts the weight loads' cost by four loops per vec4. The
 * op layer packs the weights ([G, Cg, KH, KW, Og] for the forward, [G, Og, KH, KW, Cg] for the input gradient).
 */
export function packedWeightsWgsl(channels: number, quad: string, separator = '\n        '): string {
  return [
    ...range(channels / 4).map((h) => `let wq${h} = weights[${quad} + ${h}];`),
    ...range(channels).map((i) => `let b${i} = wq${i >> 2}[${i & 3}];`),
  ].join(separator);
}
