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
 */
import { IEEE_WGSL } from './ieee.js';
import { kernel, linearGrid } from './program.js';
import { linearMainWgsl } from './wgsl.js';

/** Workgroup sizes of the (channel, chunk) and per-channel passes, and of the elementwise ones. */
const WG = 64;
const ELEMENTWISE_WG = 256;

/** Shape of the (channel, chunk) pass: x is [n, c, hw]; chunk k covers positions [k * chunkLen, ...) of M. */
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
function chunkHeaderWgsl(): string {
  return `${linearMainWgsl(WG)}
  if (i >= u.c * u.chunks) { return; }
  let c = i / u.chunks;
  let k = i % u.chunks;
  let start = k * u.chunkLen;
  let end = min(start + u.chunkLen, u.count);
  let len = f32(end - start);
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
export function bnStatsPartialProgram() {
  return kernel({
    name: 'batchNorm2d',
    key: 'bnStatsPartial',
    workgroupSize: [WG],
    uniforms: CHUNK_UNIFORMS,
    inputs: { x: 'f32' },
    outputs: { partials: 'f32' },
    grid: linearGrid(WG, 'c', 'chunks'),
    body: () => `${chunkHeaderWgsl()}
  // Summing x - x[first] instead of x keeps the f32 sum small, so a large channel mean does not swamp it.
  let shift = x[first];
  var total = 0.0;
  ${chunkLoopWgsl('total = total + (x[idx] - shift);')}
  let mean = shift + total / len;
  var m2 = 0.0;
  ${chunkLoopWgsl('let d = x[idx] - mean;\n      m2 = m2 + d * d;')}
  partials[2u * i] = mean;
  partials[2u * i + 1u] = m2;
}`,
  });
}

/**
 * Per channel: combine the chunk partials in chunk order into the batch mean and biased variance, and update
 * the running mean and running variance (with the unbiased variance) in place:
 * running = (1 - momentum) * running + momentum * batch.
 */
export function bnStatsFinalizeProgram() {
  return kernel({
    name: 'batchNorm2d',
    key: 'bnStatsFinalize',
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
    let nk = f32(min(start + u.chunkLen, u.count) - start);
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

/** xhat = (x - mean[c]) * invstd with invstd = inverseSqrt(variance[c] + eps), for element i of x. */
const XHAT_WGSL = `let ch = (i / u.hw) % u.c;
  let invstd = inverseSqrt(variance[ch] + u.eps);
  let xhat = (x[i] - mean[ch]) * invstd;`;

const ELEMENTWISE_UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'c', type: 'u32' },
  { name: 'hw', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'count', type: 'f32' },
] as const;

/** y = xhat * gamma[c] + beta[c], with gamma and beta when present, then relu when fused. */
export function bnNormalizeProgram(flags: BnNormalizeFlags) {
  const affine = `xhat${flags.gamma ? ' * gamma[ch]' : ''}${flags.beta ? ' + beta[ch]' : ''}`;
  return kernel({
    name: 'batchNorm2d',
    key: `bnNormalize|${flags.gamma ? 'g' : ''}${flags.beta ? 'b' : ''}${flags.relu ? 'r' : ''}`,
    workgroupSize: [ELEMENTWISE_WG],
    uniforms: ELEMENTWISE_UNIFORMS,
    inputs: { x: 'f32', mean: 'f32', variance: 'f32', ...(flags.gamma ? { gamma: 'f32' } : {}), ...(flags.beta ? { beta: 'f32' } : {}) },
    outputs: { y: 'f32' },
    grid: linearGrid(ELEMENTWISE_WG, 'n'),
    body: () => `${flags.relu ? IEEE_WGSL : ''}
${linearMainWgsl(ELEMENTWISE_WG)}
  if (i >= u.n) { return; }
  ${XHAT_WGSL}
  y[i] = ${flags.relu ? `reluF(${affine})` : affine};
}`,
  });
}

/**
 * Per (channel, chunk): sums of the upstream gradient g and of g * xhat, laid out [c, chunks]. With a fused
 * relu, g is dy masked by the normalisation's output y (zero where y <= 0 holds, as relu's own rule), and the
 * masked g is written out for the input-gradient pass: the chunks cover every element exactly once.
 */
export function bnGradPartialProgram(relu: boolean) {
  const g = relu ? 'select(dy[idx], 0.0, y[idx] <= 0.0)' : 'dy[idx]';
  return kernel({
    name: 'batchNorm2dBackward',
    key: `bnGradPartial|${relu ? 'r' : ''}`,
    workgroupSize: [WG],
    uniforms: [...CHUNK_UNIFORMS, { name: 'eps', type: 'f32' }],
    inputs: { dy: 'f32', x: 'f32', mean: 'f32', variance: 'f32', ...(relu ? { y: 'f32' } : {}) },
    outputs: { sumG: 'f32', sumGXhat: 'f32', ...(relu ? { maskedDy: 'f32' } : {}) },
    grid: linearGrid(WG, 'c', 'chunks'),
    body: () => `${chunkHeaderWgsl()}
  let mu = mean[c];
  let invstd = inverseSqrt(variance[c] + u.eps);
  var sg = 0.0;
  var sgx = 0.0;
  ${chunkLoopWgsl(`let g = ${g};${relu ? '\n      maskedDy[idx] = g;' : ''}\n      sg = sg + g;\n      sgx = sgx + g * (x[idx] - mu) * invstd;`)}
  sumG[i] = sg;
  sumGXhat[i] = sgx;
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
export function bnInputGradProgram(batchStats: boolean, hasGamma: boolean) {
  const scale = hasGamma ? 'gamma[ch]' : '1.0';
  const grad = batchStats ? '(u.count * dy[i] - sumG[ch] - xhat * sumGXhat[ch]) / u.count' : 'dy[i]';
  return kernel({
    name: 'batchNorm2dBackward',
    key: `bnInputGrad|${batchStats ? 'batch' : 'running'}|${hasGamma ? 'g' : ''}`,
    workgroupSize: [ELEMENTWISE_WG],
    uniforms: ELEMENTWISE_UNIFORMS,
    inputs: {
      x: 'f32',
      mean: 'f32',
      variance: 'f32',
      dy: 'f32',
      ...(hasGamma ? { gamma: 'f32' } : {}),
      ...(batchStats ? { sumG: 'f32', sumGXhat: 'f32' } : {}),
    },
    outputs: { dx: 'f32' },
    grid: linearGrid(ELEMENTWISE_WG, 'n'),
    body: () => `${linearMainWgsl(ELEMENTWISE_WG)}
  if (i >= u.n) { return; }
  ${XHAT_WGSL}
  dx[i] = ${scale} * invstd * ${grad};
}`,
  });
}
