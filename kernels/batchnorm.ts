/**
 * Batch normalisation over the channels of an NCHW tensor. Channel c's M = N*H*W elements are split into
 * chunks of consecutive (n, h, w) positions; one invocation reduces one (channel, chunk) pair in a fixed order
 * and a second pass combines the chunks in chunk order. Reductions are therefore deterministic (no float
 * atomics, no barriers) and still parallel when C is small and M large.
 *
 * Forward (training): chunk mean (of values shifted by the chunk's first one) and sum of squared deviations
 * (a second pass over the chunk; both stay accurate when the mean is large), combined with Chan's pairwise formula into the batch mean and biased variance;
 * the same pass updates the running statistics in place. The normalisation itself is elementwise.
 * Backward: per-chunk sums of g and g * xhat, both finished per channel by one pass, then an elementwise input
 * gradient.
 *
 * A following ReLU can be fused (`relu`): the normalisation applies it in the same pass, and the backward's
 * chunk pass masks the upstream gradient by the output (writing the masked gradient for the input-gradient
 * pass), so the activation costs no pass of its own in either direction.
 *
 * Where H*W is a multiple of 4 every pass reads and writes x, y, dy and dx as vec4s along H*W (`width` 4): a
 * storage load or store is a loop over the SIMD lanes on the software adapters, so four floats per loop pay.
 * The chunked passes then count positions in quads (their uniforms hw, count and chunkLen are in units of
 * `width` elements), and each elementwise invocation covers `quads` consecutive quads of one channel plane,
 * so its per-channel loads (statistics, gamma, beta, sums) are shared by up to 16 elements.
 */
import { IEEE_WGSL } from './ieee.js';
import { kernel, linearGrid } from './program.js';
import { linearMainWgsl } from './wgsl.js';

/** Workgroup sizes of the (channel, chunk) and per-channel passes, and of the elementwise ones. */
const WG = 64;
const ELEMENTWISE_WG = 256;

/** Elements per load: 4 (vec4 bindings) where H*W is a multiple of 4, else 1. */
export type BnWidth = 1 | 4;

const elementType = (width: BnWidth) => (width === 4 ? 'vec4<f32>' : 'f32');
/** A zero of the loaded type. */
const zeroOf = (width: BnWidth) => (width === 4 ? 'vec4<f32>(0.0)' : '0.0');
/** The sum of a loaded element's components. */
const hsum = (width: BnWidth, v: string) => (width === 4 ? `dot(${v}, vec4<f32>(1.0))` : v);

/**
 * Shape of the (channel, chunk) pass: x is [n, c, hw]; chunk k covers positions [k * chunkLen, ...) of M.
 * hw, count (M) and chunkLen are in units of the program's width.
 */
const CHUNK_UNIFORMS = [
  { name: 'c', type: 'u32' },
  { name: 'hw', type: 'u32' },
  { name: 'count', type: 'u32' },
  { name: 'chunks', type: 'u32' },
  { name: 'chunkLen', type: 'u32' },
] as const;

/**
 * WGSL header for a (channel, chunk) invocation: defines `c`, `k` (chunk index), `start`, `end` and `len`
 * (positions in [0, M) that this chunk covers) and `first` (the flat NCHW index of position `start`).
 */
function chunkHeaderWgsl(width: BnWidth): string {
  return `${linearMainWgsl(WG)}
  if (i >= u.c * u.chunks) { return; }
  let c = i / u.chunks;
  let k = i % u.chunks;
  let start = k * u.chunkLen;
  let end = min(start + u.chunkLen, u.count);
  let len = f32(end - start) * ${width}.0;
  let first = ((start / u.hw) * u.c + c) * u.hw + start % u.hw;`;
}

/**
 * A loop over the chunk's elements of channel c in (n, h, w) order, with `idx` the flat NCHW index. The index
 * is advanced incrementally (jumping over the other channels at each new n), so there is no division per element.
 */
function chunkLoopWgsl(body: string): string {
  return `{
    var s = start % u.hw;
    var idx = first;
    for (var r = start; r < end; r = r + 1u) {
      ${body}
      s = s + 1u;
      idx = idx + 1u;
      if (s == u.hw) {
        s = 0u;
        idx = idx + (u.c - 1u) * u.hw;
      }
    }
  }`;
}

/** Per (channel, chunk): mean (partials[2i]) and sum of squared deviations from it (partials[2i + 1]) of x. */
export function bnStatsPartialProgram(width: BnWidth) {
  const zero = zeroOf(width);
  return kernel({
    name: 'batchNorm2d',
    key: `bnStatsPartial|${width}`,
    workgroupSize: [WG],
    uniforms: CHUNK_UNIFORMS,
    inputs: { x: elementType(width) },
    outputs: { partials: 'f32' },
    grid: linearGrid(WG, 'c', 'chunks'),
    body: () => `${chunkHeaderWgsl(width)}
  // Summing x - x[first] instead of x keeps the f32 sum small, so a large channel mean does not swamp it.
  let shift = ${width === 4 ? 'x[first].x' : 'x[first]'};
  var total = ${zero};
  ${chunkLoopWgsl('total = total + (x[idx] - shift);')}
  let mean = shift + ${hsum(width, 'total')} / len;
  var m2 = ${zero};
  ${chunkLoopWgsl('let d = x[idx] - mean;\n      m2 = m2 + d * d;')}
  partials[2u * i] = mean;
  partials[2u * i + 1u] = ${hsum(width, 'm2')};
}`,
  });
}

/**
 * Per channel: combine the chunk partials in chunk order into the batch mean and biased variance, and update
 * the running mean and running variance (with the unbiased variance) in place:
 * running = (1 - momentum) * running + momentum * batch.
 */
export function bnStatsFinalizeProgram(width: BnWidth) {
  return kernel({
    name: 'batchNorm2d',
    key: `bnStatsFinalize|${width}`,
    workgroupSize: [WG],
    uniforms: [...CHUNK_UNIFORMS, { name: 'momentum', type: 'f32' }],
    inputs: { partials: 'f32' },
    outputs: { batchMean: 'f32', batchVar: 'f32', runningMean: 'f32', runningVar: 'f32' },
    grid: linearGrid(WG, 'c'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.c) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var k = 0u; k < u.chunks; k = k + 1u) {
    let start = k * u.chunkLen;
    let nk = f32(min(start + u.chunkLen, u.count) - start) * ${width}.0;
    let p = (i * u.chunks + k) * 2u;
    let delta = partials[p] - mean;
    let total = n + nk;
    mean = mean + delta * (nk / total);
    m2 = m2 + partials[p + 1u] + delta * delta * (n * nk / total);
    n = total;
  }
  batchMean[i] = mean;
  batchVar[i] = m2 / n;
  runningMean[i] = (1.0 - u.momentum) * runningMean[i] + u.momentum * mean;
  runningVar[i] = (1.0 - u.momentum) * runningVar[i] + u.momentum * (m2 / (n - 1.0));
}`,
  });
}

/** Which optional per-channel affine parameters the normalisation reads, and whether a ReLU follows it. */
export interface BnNormalizeFlags {
  gamma: boolean;
  beta: boolean;
  relu: boolean;
}

/** Loads per (channel, chunk) element and per elementwise invocation, for planes of `hw` elements. */
export function bnWidth(hw: number): BnWidth {
  return hw % 4 === 0 ? 4 : 1;
}

/** Consecutive loads per elementwise invocation: 4, 2 or 1, whichever is the largest to divide a plane. */
export function bnRun(hw: number): number {
  const loads = hw / bnWidth(hw);
  return loads % 4 === 0 ? 4 : loads % 2 === 0 ? 2 : 1;
}

/**
 * Header of an elementwise invocation over `run` consecutive loads of one channel plane, starting at load
 * `base`: defines `ch` and `invstd` = inverseSqrt(variance[ch] + eps). u.hw is in elements.
 */
function elementwiseHeaderWgsl(width: BnWidth, run: number): string {
  return `${linearMainWgsl(ELEMENTWISE_WG)}
  if (i >= u.n) { return; }
  let base = i * ${run}u;
  let ch = ((base * ${width}u) / u.hw) % u.c;
  let mu = mean[ch];
  let invstd = inverseSqrt(variance[ch] + u.eps);`;
}

/** The statement `body` once per load j of the run, with `xhat` = (x - mean[ch]) * invstd of load base + j. */
function elementwiseRunWgsl(run: number, body: (j: string) => string): string {
  const out: string[] = [];
  for (let r = 0; r < run; r++) {
    const j = `base + ${r}u`;
    out.push(`{\n    let xhat = (x[${j}] - mu) * invstd;\n    ${body(j)}\n  }`);
  }
  return out.join('\n  ');
}

/** WGSL relu of one load (IEEE_WGSL's reluF per component). */
function reluWgsl(width: BnWidth, v: string): string {
  return width === 4 ? `reluV(${v})` : `reluF(${v})`;
}

const RELU_V_WGSL = `fn reluV(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(reluF(v.x), reluF(v.y), reluF(v.z), reluF(v.w));
}`;

const ELEMENTWISE_UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'c', type: 'u32' },
  { name: 'hw', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'count', type: 'f32' },
] as const;

/**
 * y = xhat * gamma[c] + beta[c], with gamma and beta when present, then relu when fused. u.n counts
 * invocations: elements / (width * run).
 */
export function bnNormalizeProgram(flags: BnNormalizeFlags, width: BnWidth, run: number) {
  const t = elementType(width);
  return kernel({
    name: 'batchNorm2d',
    key: `bnNormalize|${flags.gamma ? 'g' : ''}${flags.beta ? 'b' : ''}${flags.relu ? 'r' : ''}|${width}x${run}`,
    workgroupSize: [ELEMENTWISE_WG],
    uniforms: ELEMENTWISE_UNIFORMS,
    inputs: { x: t, mean: 'f32', variance: 'f32', ...(flags.gamma ? { gamma: 'f32' } : {}), ...(flags.beta ? { beta: 'f32' } : {}) },
    outputs: { y: t },
    grid: linearGrid(ELEMENTWISE_WG, 'n'),
    body: () => `${flags.relu ? `${IEEE_WGSL}\n${width === 4 ? RELU_V_WGSL : ''}` : ''}
${elementwiseHeaderWgsl(width, run)}
  ${flags.gamma ? 'let scale = gamma[ch];' : ''}
  ${flags.beta ? 'let shift = beta[ch];' : ''}
  ${elementwiseRunWgsl(run, (j) => {
    const affine = `xhat${flags.gamma ? ' * scale' : ''}${flags.beta ? ' + shift' : ''}`;
    return `y[${j}] = ${flags.relu ? reluWgsl(width, affine) : affine};`;
  })}
}`,
  });
}

/**
 * Per (channel, chunk): sums of the upstream gradient g and of g * xhat, laid out [c, chunks]. With a fused
 * relu, g is dy masked by the normalisation's output y (zero where y <= 0 holds, as relu's own rule), and the
 * masked g is written out for the input-gradient pass: the chunks cover every element exactly once.
 */
export function bnGradPartialProgram(relu: boolean, width: BnWidth) {
  const t = elementType(width);
  const zero = zeroOf(width);
  const g = relu ? `select(dy[idx], ${zero}, y[idx] <= ${zero})` : 'dy[idx]';
  return kernel({
    name: 'batchNorm2dBackward',
    key: `bnGradPartial|${relu ? 'r' : ''}|${width}`,
    workgroupSize: [WG],
    uniforms: [...CHUNK_UNIFORMS, { name: 'eps', type: 'f32' }],
    inputs: { dy: t, x: t, mean: 'f32', variance: 'f32', ...(relu ? { y: t } : {}) },
    outputs: { sumG: 'f32', sumGXhat: 'f32', ...(relu ? { maskedDy: t } : {}) },
    grid: linearGrid(WG, 'c', 'chunks'),
    body: () => `${chunkHeaderWgsl(width)}
  let mu = mean[c];
  let invstd = inverseSqrt(variance[c] + u.eps);
  var sg = ${zero};
  var sgx = ${zero};
  ${chunkLoopWgsl(`let g = ${g};${relu ? '\n      maskedDy[idx] = g;' : ''}\n      sg = sg + g;\n      sgx = sgx + g * (x[idx] - mu);`)}
  sumG[i] = ${hsum(width, 'sg')};
  sumGXhat[i] = ${hsum(width, 'sgx')} * invstd;
}`,
  });
}

/** Per channel: the chunk sums of g and of g * xhat added in chunk order (the beta and gamma gradients). */
export function bnGradFinalizeProgram() {
  return kernel({
    name: 'batchNorm2dBackward',
    key: 'bnGradFinalize',
    workgroupSize: [WG],
    uniforms: CHUNK_UNIFORMS,
    inputs: { partialG: 'f32', partialGXhat: 'f32' },
    outputs: { sumG: 'f32', sumGXhat: 'f32' },
    grid: linearGrid(WG, 'c'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.c) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var k = 0u; k < u.chunks; k = k + 1u) {
    sg = sg + partialG[i * u.chunks + k];
    sgx = sgx + partialGXhat[i * u.chunks + k];
  }
  sumG[i] = sg;
  sumGXhat[i] = sgx;
}`,
  });
}

/**
 * Input gradient from x, the statistics, the upstream gradient dy, gamma when present and (batch statistics
 * only) the channel sums of dy and dy * xhat. With batch statistics, the mean and variance depend on x:
 * dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)). With running statistics they are
 * constants: dx = gamma * invstd * dy.
 */
export function bnInputGradProgram(batchStats: boolean, hasGamma: boolean, width: BnWidth, run: number) {
  const t = elementType(width);
  const grad = (j: string) => (batchStats ? `(u.count * dy[${j}] - sg - xhat * sgx) / u.count` : `dy[${j}]`);
  return kernel({
    name: 'batchNorm2dBackward',
    key: `bnInputGrad|${batchStats ? 'batch' : 'running'}|${hasGamma ? 'g' : ''}|${width}x${run}`,
    workgroupSize: [ELEMENTWISE_WG],
    uniforms: ELEMENTWISE_UNIFORMS,
    inputs: {
      x: t,
      mean: 'f32',
      variance: 'f32',
      dy: t,
      ...(hasGamma ? { gamma: 'f32' } : {}),
      ...(batchStats ? { sumG: 'f32', sumGXhat: 'f32' } : {}),
    },
    outputs: { dx: t },
    grid: linearGrid(ELEMENTWISE_WG, 'n'),
    body: () => `${elementwiseHeaderWgsl(width, run)}
  let scale = ${hasGamma ? 'gamma[ch]' : '1.0'} * invstd;
  ${batchStats ? 'let sg = sumG[ch];\n  let sgx = sumGXhat[ch];' : ''}
  ${elementwiseRunWgsl(run, (j) => `dx[${j}] = scale * ${grad(j)};`)}
}`,
  });
}
