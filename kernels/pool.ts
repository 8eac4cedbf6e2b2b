/**
 * 2-D pooling, NCHW, barrier-free: one invocation per output (forward) or per input pixel (backward).
 * Max pooling records the flat in-plane index of the first maximum of each window; its backward gathers, for
 * each input pixel, the gradients of the windows that chose it, so no atomics are needed and the result is
 * deterministic. Where the windows tile the input exactly (stride = kernel, no padding, no leftover rows or
 * columns: VGG's 2x2 pools) every pixel belongs to one window, and the backward runs one invocation per window
 * writing its cells instead: a quarter of the invocations for 2x2, each without the covering-window bounds (four
 * integer divisions, scalarised on llvmpipe) and the data-dependent loop; VGG-w8's four pool gradients went from
 * about 30 to 5 ms per step on llvmpipe. Average pooling divides by the full window area (PyTorch's
 * count_include_pad default).
 * As in PyTorch, a NaN anywhere in a window makes its maximum NaN, and the gradient goes to the window's last NaN.
 */
import { kernel, linearGrid } from './program.js';
import { IEEE_WGSL } from './ieee.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

const GEOMETRY = [
  { name: 'n', type: 'u32' },
  { name: 'h', type: 'u32' },
  { name: 'w', type: 'u32' },
  { name: 'oh', type: 'u32' },
  { name: 'ow', type: 'u32' },
  { name: 'kh', type: 'u32' },
  { name: 'kw', type: 'u32' },
  { name: 'sh', type: 'u32' },
  { name: 'sw', type: 'u32' },
  { name: 'ph', type: 'u32' },
  { name: 'pw', type: 'u32' },
] as const;

export type PoolKind = 'max' | 'avg';

/** A pooling's shape: `n` counts outputs (N*C*OH*OW); windows of kh x kw at strides sh, sw, padding ph, pw. */
export interface PoolGeometry {
  n: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

/** Whether the windows cover every input pixel exactly once (stride = kernel, no padding, nothing left over). */
export function windowsTile(g: PoolGeometry): boolean {
  return g.sh === g.kh && g.sw === g.kw && g.ph === 0 && g.pw === 0 && g.oh * g.kh === g.h && g.ow * g.kw === g.w;
}

/**
 * Loop iterations per invocation: the window (forward, and the backward of tiling windows), or the windows that
 * cover one input pixel (the general backward).
 */
export function poolTrips(g: PoolGeometry, backward: boolean): number {
  const [rows, cols] = backward && !windowsTile(g) ? [Math.ceil(g.kh / g.sh), Math.ceil(g.kw / g.sw)] : [g.kh, g.kw];
  return rows + rows * cols;
}

/** Forward: `n` counts outputs (N*C*OH*OW). Max pooling has a second output, the argmax index (i32). */
export function poolForwardProgram(kind: PoolKind) {
  return kernel({
    name: `${kind}Pool2d`,
    key: `pool|${kind}|fwd`,
    workgroupSize: [WG],
    uniforms: GEOMETRY,
    inputs: { x: 'f32' },
    outputs: { y: 'f32', ...(kind === 'max' ? { argmax: 'i32' } : {}) },
    grid: linearGrid(WG, 'n'),
    body: () => `${IEEE_WGSL}
${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let ox = i % u.ow;
  let oy = (i / u.ow) % u.oh;
  let plane = i / (u.ow * u.oh);
  let base = plane * u.h * u.w;
  let y0 = i32(oy * u.sh) - i32(u.ph);
  let x0 = i32(ox * u.sw) - i32(u.pw);
  ${kind === 'max' ? 'var best = -3.4028234e38;\n  var arg = -1;' : 'var acc = 0.0;'}
  for (var ky = 0u; ky < u.kh; ky = ky + 1u) {
    let row = y0 + i32(ky);
    if (row < 0 || row >= i32(u.h)) { continue; }
    for (var kx = 0u; kx < u.kw; kx = kx + 1u) {
      let col = x0 + i32(kx);
      if (col < 0 || col >= i32(u.w)) { continue; }
      let idx = u32(row) * u.w + u32(col);
      let v = x[base + idx];
      ${kind === 'max' ? 'if (arg < 0 || v > best || isNanF(v)) { best = v; arg = i32(idx); }' : 'acc = acc + v;'}
    }
  }
  ${kind === 'max' ? 'y[i] = best;\n  argmax[i] = arg;' : 'y[i] = acc / f32(u.kh * u.kw);'}
}`,
  });
}

/** Tiling windows (`windowsTile`): one invocation per window (output) writes every cell of its window. */
function tilingBackwardWgsl(kind: PoolKind): string {
  return `  let ox = i % u.ow;
  let oy = (i / u.ow) % u.oh;
  let base = (i / (u.ow * u.oh)) * u.h * u.w;
  let g = dy[i];
  ${kind === 'max' ? 'let arg = u32(argmax[i]);' : 'let share = g / f32(u.kh * u.kw);'}
  for (var ky = 0u; ky < u.kh; ky = ky + 1u) {
    let row = (oy * u.kh + ky) * u.w + ox * u.kw;
    for (var kx = 0u; kx < u.kw; kx = kx + 1u) {
      ${kind === 'max' ? 'dx[base + row + kx] = select(0.0, g, row + kx == arg);' : 'dx[base + row + kx] = share;'}
    }
  }`;
}

/** Any windows: one invocation per input pixel gathers from the windows that cover it. */
function gatheringBackwardWgsl(kind: PoolKind): string {
  return `  let x = i32(i % u.w);
  let y = i32((i / u.w) % u.h);
  let plane = i / (u.w * u.h);
  let here = i32(i % (u.w * u.h));
  // Output rows/columns whose window covers (y, x): o*s - p <= y < o*s - p + k.
  let oyLo = max(0, (y + i32(u.ph) - i32(u.kh) + i32(u.sh)) / i32(u.sh));
  let oyHi = min(i32(u.oh) - 1, (y + i32(u.ph)) / i32(u.sh));
  let oxLo = max(0, (x + i32(u.pw) - i32(u.kw) + i32(u.sw)) / i32(u.sw));
  let oxHi = min(i32(u.ow) - 1, (x + i32(u.pw)) / i32(u.sw));
  var acc = 0.0;
  for (var oy = oyLo; oy <= oyHi; oy = oy + 1) {
    for (var ox = oxLo; ox <= oxHi; ox = ox + 1) {
      let o = (plane * u.oh + u32(oy)) * u.ow + u32(ox);
      ${kind === 'max' ? 'if (argmax[o] == here) { acc = acc + dy[o]; }' : 'acc = acc + dy[o];'}
    }
  }
  dx[i] = ${kind === 'max' ? 'acc' : 'acc / f32(u.kh * u.kw)'};`;
}

/**
 * Backward; inputs are dy (and the argmax for max pooling). `n` counts outputs (N*C*OH*OW) for tiling windows,
 * input pixels (N*C*H*W) otherwise. Both give the same values: a pixel of tiling windows has one window to find.
 */
export function poolBackwardProgram(kind: PoolKind, tiling: boolean) {
  return kernel({
    name: `${kind}Pool2dBackward`,
    key: `pool|${kind}|bwd${tiling ? '-tiling' : ''}`,
    workgroupSize: [WG],
    uniforms: GEOMETRY,
    inputs: { dy: 'f32', ...(kind === 'max' ? { argmax: 'i32' } : {}) },
    outputs: { dx: 'f32' },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
${tiling ? tilingBackwardWgsl(kind) : gatheringBackwardWgsl(kind)}
}`,
  });
}
