/**
 * Batch preparation in one pass over the output: raw 8-bit pixels (uploaded packed, four per u32, a quarter of
 * the f32 bytes) are resampled through a per-sample 2x3 affine map (random crop with zero padding, flips and
 * small rotations/scalings all reduce to one), optionally overwritten by a patch from a patch bank at a
 * per-sample position (M-LOCK's tokens: stamped on raw pixel values, before normalisation), then normalised
 * per channel. Bilinear sampling at integer offsets reproduces the source exactly, so plain crops and flips
 * stay lossless.
 */
import { kernel, linearGrid } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/**
 * Bindings: `pixels` (the packed bytes), `affine` (6 coefficients per sample) when `affine`, and when `patches`
 * `placement` (patch index, or -1 for none, then the top-left y and x, per sample) and `bank` (packed bytes);
 * output `batch`.
 */
export function prepareBatchProgram(affine: boolean, patches: boolean) {
  return kernel({
    name: 'prepareBatch',
    key: `prepareBatch|${affine ? 'affine' : 'copy'}|${patches ? 'patch' : '-'}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'c', type: 'u32' },
      { name: 'h', type: 'u32' },
      { name: 'w', type: 'u32' },
      { name: 'maxH', type: 'u32' },
      { name: 'maxW', type: 'u32' },
      { name: 'bankStride', type: 'u32' },
      { name: 'mean', type: 'vec4f' },
      { name: 'invStd', type: 'vec4f' },
    ],
    inputs: { pixels: 'u32', ...(affine ? { affine: 'f32' } : {}), ...(patches ? { placement: 'i32', bank: 'u32' } : {}) },
    outputs: { batch: 'f32' },
    grid: linearGrid(WG, 'n', 'c', 'h', 'w'),
    body: () => `
fn pixel(index: u32) -> f32 {
  return f32((pixels[index >> 2u] >> ((index & 3u) * 8u)) & 255u);
}
${
  patches
    ? `fn bankByte(index: u32) -> u32 {
  return (bank[index >> 2u] >> ((index & 3u) * 8u)) & 255u;
}`
    : ''
}
${
  affine
    ? `// Source value at fractional (sx, sy), zero outside the image (the padding of a random crop).
fn sample(base: u32, sx: f32, sy: f32) -> f32 {
  let x0 = floor(sx);
  let y0 = floor(sy);
  let fx = sx - x0;
  let fy = sy - y0;
  // The four bilinear taps, unrolled (no loop, so nothing to count against the loop budget).
  var acc = 0.0;
  ${[0, 1]
    .flatMap((dy) =>
      [0, 1].map(
        (dx) => `{
    let wgt = ${dx ? 'fx' : '(1.0 - fx)'} * ${dy ? 'fy' : '(1.0 - fy)'};
    let xi = i32(x0) + ${dx};
    let yi = i32(y0) + ${dy};
    if (wgt > 0.0 && xi >= 0 && yi >= 0 && xi < i32(u.w) && yi < i32(u.h)) {
      acc = acc + wgt * pixel(base + u32(yi) * u.w + u32(xi));
    }
  }`,
      ),
    )
    .join('\n  ')}
  return acc;
}`
    : ''
}
${linearMainWgsl(WG)}
  let plane = u.h * u.w;
  if (i >= u.n * u.c * plane) { return; }
  let x = i % u.w;
  let y = (i / u.w) % u.h;
  let ch = (i / plane) % u.c;
  let s = i / (plane * u.c);
  var v = 0.0;
  var painted = false;
  ${
    patches
      ? `let k = placement[3u * s];
  if (k >= 0) {
    let ty = i32(y) - placement[3u * s + 1u];
    let tx = i32(x) - placement[3u * s + 2u];
    if (ty >= 0 && tx >= 0 && ty < i32(u.maxH) && tx < i32(u.maxW)) {
      let entry = u32(k) * u.bankStride;
      let cell = u32(ty) * u.maxW + u32(tx);
      let pl = u.maxH * u.maxW;
      if (bankByte(entry + u.c * pl + cell) != 0u) {
        v = f32(bankByte(entry + ch * pl + cell));
        painted = true;
      }
    }
  }`
      : ''
  }
  if (!painted) {
    ${
      affine
        ? `let a = 6u * s;
    let fx = f32(x);
    let fy = f32(y);
    let sx = affine[a] * fx + affine[a + 1u] * fy + affine[a + 2u];
    let sy = affine[a + 3u] * fx + affine[a + 4u] * fy + affine[a + 5u];
    v = sample((s * u.c + ch) * plane, sx, sy);`
        : 'v = pixel(i);'
    }
  }
  batch[i] = (v / 255.0 - u.mean[ch]) * u.invStd[ch];
}`,
  });
}
