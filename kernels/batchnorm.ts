/**
 * Batch normalisation over the channels of an NCHW tensor. Channel c's M = N*H*W elements are split into
 * chunks of consecutive (n, h, w) positions; one invocation reduces one (channel, chunk) pair in a fixed order
 * and a second pass combines the chunks in chunk order. Reductions are therefore deterministic (no float
 * atomics, no barriers) and still parallel when C is small and M large.
 *
 * Forward (training): chunk mean (of values shifted by the chunk's first one) and sum of squared deviations
 * (a second pass over the chunk; both stay accurate when the mean is large), combined with Chan's pairwise formula into the batch mean and biased variance;
 * the same pass updates the running statistics in place. The normalisation itself is elementwise.
 * Backward: per-chunk sums of g and g * xhat (finished by an ordinary sum), then an elementwise input gradient.
 */
import type { KernelProgram } from './program.js';
import { linearMainWgsl } from './wgsl.js';

export const BN_WORKGROUP = 64;
export const BN_ELEMENTWISE_WORKGROUP = 256;

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
  return `${linearMainWgsl(BN_WORKGROUP)}
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

/** Per (channel, chunk): mean (out0[2i]) and sum of squared deviations from it (out0[2i + 1]) of x (in0). */
export function bnStatsPartialProgram(): KernelProgram {
  return {
    name: 'batchNorm2d',
    key: 'bnStatsPartial',
    workgroupSize: [BN_WORKGROUP],
    uniforms: CHUNK_UNIFORMS,
    inputs: ['f32'],
    outputs: ['f32'],
    body: () => `${chunkHeaderWgsl()}
  // Summing x - x[first] instead of x keeps the f32 sum small, so a large channel mean does not swamp it.
  let shift = in0[first];
  var total = 0.0;
  ${chunkLoopWgsl('total = total + (in0[idx] - shift);')}
  let mean = shift + total / len;
  var m2 = 0.0;
  ${chunkLoopWgsl('let d = in0[idx] - mean;\n      m2 = m2 + d * d;')}
  out0[2u * i] = mean;
  out0[2u * i + 1u] = m2;
}`,
  };
}

/**
 * Per channel: combine the chunk partials (in0) in chunk order into the batch mean (out0) and biased variance
 * (out1), and update the running mean (out2) and running variance (out3, with the unbiased variance) in place:
 * running = (1 - momentum) * running + momentum * batch.
 */
export function bnStatsFinalizeProgram(): KernelProgram {
  return {
    name: 'batchNorm2d',
    key: 'bnStatsFinalize',
    workgroupSize: [BN_WORKGROUP],
    uniforms: [...CHUNK_UNIFORMS, { name: 'momentum', type: 'f32' }],
    inputs: ['f32'],
    outputs: ['f32', 'f32', 'f32', 'f32'],
    body: () => `${linearMainWgsl(BN_WORKGROUP)}
  if (i >= u.c) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var k = 0u; k < u.chunks; k = k + 1u) {
    let start = k * u.chunkLen;
    let nk = f32(min(start + u.chunkLen, u.count) - start);
    let p = (i * u.chunks + k) * 2u;
    let delta = in0[p] - mean;
    let total = n + nk;
    mean = mean + delta * (nk / total);
    m2 = m2 + in0[p + 1u] + delta * delta * (n * nk / total);
    n = total;
  }
  out0[i] = mean;
  out1[i] = m2 / n;
  out2[i] = (1.0 - u.momentum) * out2[i] + u.momentum * mean;
  out3[i] = (1.0 - u.momentum) * out3[i] + u.momentum * (m2 / (n - 1.0));
}`,
  };
}

/** Which optional per-channel affine parameters a kernel reads. */
export interface BnAffine {
  gamma: boolean;
  beta: boolean;
}

/** xhat = (x - mean[c]) * invstd with invstd = inverseSqrt(var[c] + eps), for element i of x = in0. */
const XHAT_WGSL = `let ch = (i / u.hw) % u.c;
  let invstd = inverseSqrt(in2[ch] + u.eps);
  let xhat = (in0[i] - in1[ch]) * invstd;`;

const ELEMENTWISE_UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'c', type: 'u32' },
  { name: 'hw', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'count', type: 'f32' },
] as const;

/** y = xhat * gamma[c] + beta[c]. Inputs: x, mean, var, then gamma and beta when present. */
export function bnNormalizeProgram(affine: BnAffine): KernelProgram {
  const gamma = affine.gamma ? ' * in3[ch]' : '';
  const beta = affine.beta ? ` + in${affine.gamma ? 4 : 3}[ch]` : '';
  return {
    name: 'batchNorm2d',
    key: `bnNormalize|${affine.gamma ? 'g' : ''}${affine.beta ? 'b' : ''}`,
    workgroupSize: [BN_ELEMENTWISE_WORKGROUP],
    uniforms: ELEMENTWISE_UNIFORMS,
    inputs: ['f32', 'f32', 'f32', ...(affine.gamma ? ['f32' as const] : []), ...(affine.beta ? ['f32' as const] : [])],
    outputs: ['f32'],
    body: () => `${linearMainWgsl(BN_ELEMENTWISE_WORKGROUP)}
  if (i >= u.n) { return; }
  ${XHAT_WGSL}
  out0[i] = xhat${gamma}${beta};
}`,
  };
}

/**
 * Per (channel, chunk): sum of g (out0) and of g * xhat (out1), laid out [c, chunks]. Inputs: g (in0),
 * x (in1), mean (in2), var (in3).
 */
export function bnGradPartialProgram(): KernelProgram {
  return {
    name: 'batchNorm2dBackward',
    key: 'bnGradPartial',
    workgroupSize: [BN_WORKGROUP],
    uniforms: [...CHUNK_UNIFORMS, { name: 'eps', type: 'f32' }],
    inputs: ['f32', 'f32', 'f32', 'f32'],
    outputs: ['f32', 'f32'],
    body: () => `${chunkHeaderWgsl()}
  let mean = in2[c];
  let invstd = inverseSqrt(in3[c] + u.eps);
  var sg = 0.0;
  var sgx = 0.0;
  ${chunkLoopWgsl('let g = in0[idx];\n      sg = sg + g;\n      sgx = sgx + g * (in1[idx] - mean) * invstd;')}
  out0[i] = sg;
  out1[i] = sgx;
}`,
  };
}

/**
 * Input gradient. Inputs: x (in0), mean (in1), var (in2), g (in3), then gamma when present, then (batch
 * statistics only) the channel sums of g and g * xhat. With batch statistics, the mean and variance depend on
 * x: dx = gamma * invstd / M * (M * g - sum(g) - xhat * sum(g * xhat)). With running statistics they are
 * constants: dx = gamma * invstd * g.
 */
export function bnInputGradProgram(batchStats: boolean, hasGamma: boolean): KernelProgram {
  const gamma = hasGamma ? 'in4[ch]' : '1.0';
  const sums = hasGamma ? 5 : 4;
  const grad = batchStats ? `(u.count * in3[i] - in${sums}[ch] - xhat * in${sums + 1}[ch]) / u.count` : 'in3[i]';
  return {
    name: 'batchNorm2dBackward',
    key: `bnInputGrad|${batchStats ? 'batch' : 'running'}|${hasGamma ? 'g' : ''}`,
    workgroupSize: [BN_ELEMENTWISE_WORKGROUP],
    uniforms: ELEMENTWISE_UNIFORMS,
    inputs: Array<'f32'>(4 + (hasGamma ? 1 : 0) + (batchStats ? 2 : 0)).fill('f32'),
    outputs: ['f32'],
    body: () => `${linearMainWgsl(BN_ELEMENTWISE_WORKGROUP)}
  if (i >= u.n) { return; }
  ${XHAT_WGSL}
  out0[i] = ${gamma} * invstd * ${grad};
}`,
  };
}
