/**
 * Batch normalisation of NCHW tensors (PyTorch's BatchNorm2d semantics). Training mode normalises with the
 * batch statistics (biased variance) and updates the caller's running mean and variance in place on the GPU
 * (unbiased variance, exponential moving average with `momentum`); eval mode normalises with the running
 * statistics. gamma (scale) and beta (shift) are optional and independent. A following ReLU can be fused into
 * the same passes (`activation: 'relu'`, which Sequential uses for BatchNorm2d + ReLU).
 */
import { defineOp, isGradEnabled, type GradNode } from '../graph.js';
import { runtime } from '../context.js';
import { fmt } from '../shape.js';
import { emptyTensor, type Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import {
  bnGradFinalizeProgram,
  bnGradPartialProgram,
  bnInputGradProgram,
  bnNormalizeProgram,
  bnStatsFinalizeProgram,
  bnStatsPartialProgram,
  bnRun,
  bnWidth,
  type BnWidth,
} from '../../kernels/batchnorm.js';

export interface BatchNormOptions {
  /** Per-channel scale, f32 [C]. */
  gamma?: Tensor;
  /** Per-channel shift, f32 [C]. */
  beta?: Tensor;
  /** f32 [C]; read in eval mode, updated in place in training mode. */
  runningMean: Tensor;
  /** f32 [C]; read in eval mode, updated in place (with the unbiased batch variance) in training mode. */
  runningVar: Tensor;
  training: boolean;
  /** Weight of the batch statistics in the running update. Default 0.1. */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Applied to the output in the normalisation pass, and masked in the backward's chunk pass. Default 'none'. */
  activation?: 'none' | 'relu';
}

/**
 * Per-channel reductions longer than this many loads are split into chunks, so few channels still give many
 * invocations. Measured side by side on llvmpipe (VGG w8 batch norms, batch 64, vec4 loads): 256 ran the
 * backward 1.6-2x as fast as 1024 or 2048; 64 and 128 were within the noise of 256.
 */
const CHUNK = 256;
/**
 * At most this many chunks per channel (the finishing pass loops over them); past CHUNK * MAX_CHUNKS loads per
 * channel the chunks grow instead. Both passes stay within the loop budget up to 67M loads per channel.
 */
const MAX_CHUNKS = 8192;

/**
 * How a channel's N*H*W elements are split into chunks (uniform values of the chunked kernels, counted in loads
 * of `width` elements), and how the elementwise passes group their loads.
 */
interface ChunkLayout {
  c: number;
  hw: number;
  count: number;
  chunks: number;
  chunkLen: number;
  width: BnWidth;
  run: number;
}

function chunkLayout(x: Tensor): ChunkLayout {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const width = bnWidth(h * w);
  const hw = (h * w) / width;
  const count = n * hw;
  const chunkLen = Math.max(1, Math.ceil(count / Math.min(MAX_CHUNKS, Math.max(1, Math.ceil(count / CHUNK)))));
  // Derived from chunkLen so that no chunk is empty (an empty chunk would have an undefined mean).
  return { c, hw, count, chunks: Math.max(1, Math.ceil(count / chunkLen)), chunkLen, width, run: bnRun(h * w) };
}

/** The chunked kernels' uniforms. */
function chunkUniforms(l: ChunkLayout) {
  return { c: l.c, hw: l.hw, count: l.count, chunks: l.chunks, chunkLen: l.chunkLen };
}

/** The elementwise kernels' uniforms (in elements, but for n, the number of invocations). */
function elementwiseUniforms(x: Tensor, l: ChunkLayout, eps: number) {
  return { n: x.size / (l.width * l.run), c: l.c, hw: l.hw * l.width, eps, count: l.count * l.width };
}

function checkChannelVector(name: string, t: Tensor, x: Tensor): void {
  t.buffer('batchNorm2d');
  const c = x.shape[1]!;
  if (t.dtype !== 'f32' || t.rank !== 1 || t.shape[0] !== c) {
    throw new Error(`batchNorm2d: ${name} is ${t.dtype} ${fmt(t.shape)} but x ${fmt(x.shape)} has ${c} channels (expected f32 [${c}])`);
  }
}

function checkOptions(x: Tensor, o: BatchNormOptions): void {
  x.buffer('batchNorm2d');
  if (x.dtype !== 'f32' || x.rank !== 4)
    throw new Error(`batchNorm2d: expects an f32 tensor of shape [N, C, H, W], got ${x.dtype} ${fmt(x.shape)}`);
  if (typeof o.training !== 'boolean') throw new Error(`batchNorm2d: options.training must be true or false, got ${String(o.training)}`);
  if (!o.runningMean || !o.runningVar) throw new Error('batchNorm2d: options.runningMean and options.runningVar are required');
  checkChannelVector('runningMean', o.runningMean, x);
  checkChannelVector('runningVar', o.runningVar, x);
  // Both are written by one kernel, and WebGPU forbids binding one buffer to two writable slots.
  if (o.runningMean.buffer() === o.runningVar.buffer()) throw new Error('batchNorm2d: runningMean and runningVar must not share storage');
  if (o.gamma) checkChannelVector('gamma', o.gamma, x);
  if (o.beta) checkChannelVector('beta', o.beta, x);
  const momentum = o.momentum ?? 0.1;
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`batchNorm2d: momentum must be in [0, 1], got ${momentum}`);
  const eps = o.eps ?? 1e-5;
  if (!(eps > 0)) throw new Error(`batchNorm2d: eps must be positive, got ${eps}`);
  const activation = o.activation ?? 'none';
  if (activation !== 'none' && activation !== 'relu')
    throw new Error(`batchNorm2d: unknown activation '${String(activation)}'; expected 'none' or 'relu'`);
  const perChannel = x.shape[0]! * x.shape[2]! * x.shape[3]!;
  if (o.training && perChannel < 2) {
    throw new Error(`batchNorm2d: training mode needs more than one value per channel, but x ${fmt(x.shape)} has ${perChannel}`);
  }
}

/** Batch mean and biased variance per channel; updates the running statistics in place as a side effect. */
function batchStatistics(
  x: Tensor,
  layout: ChunkLayout,
  runningMean: Tensor,
  runningVar: Tensor,
  momentum: number,
): { mean: Tensor; variance: Tensor } {
  // The partial pass walks its chunk twice (mean, then squared deviations); the finishing pass walks the chunks.
  const { partials } = runProgram(bnStatsPartialProgram(layout.width), {
    inputs: { x },
    outputs: { partials: [layout.c * layout.chunks * 2] },
    uniforms: chunkUniforms(layout),
    trips: 2 * layout.chunkLen,
  });
  const { batchMean, batchVar } = runProgram(bnStatsFinalizeProgram(layout.width), {
    inputs: { partials },
    outputs: { batchMean: [layout.c], batchVar: [layout.c], runningMean, runningVar },
    uniforms: { ...chunkUniforms(layout), momentum },
    trips: layout.chunks,
  });
  partials.dispose();
  return { mean: batchMean, variance: batchVar };
}

/** A copy of a running statistic, so a later training step's in-place update cannot change a recorded graph. */
function snapshot(t: Tensor): Tensor {
  const copy = emptyTensor(t.shape, 'f32', 'batchNorm2d saved statistic');
  runtime().copy(t.buffer('batchNorm2d'), 0, copy.buffer(), 0, t.size * 4);
  return copy;
}

/**
 * y = (x - mean) / sqrt(var + eps) * gamma + beta per channel of x [N, C, H, W]. Differentiable w.r.t. x, gamma
 * and beta; in training mode the gradient accounts for the batch statistics' dependence on x.
 */
export function batchNorm2d(x: Tensor, options: BatchNormOptions): Tensor {
  checkOptions(x, options);
  const { gamma, beta, runningMean, runningVar, training } = options;
  const eps = options.eps ?? 1e-5;
  const relu = options.activation === 'relu';
  const layout = chunkLayout(x);
  const params = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const recording = isGradEnabled() && params.some((t) => t.requiresGrad);
  let stats: { mean: Tensor; variance: Tensor };
  if (training) stats = batchStatistics(x, layout, runningMean, runningVar, options.momentum ?? 0.1);
  else if (recording) stats = { mean: snapshot(runningMean), variance: snapshot(runningVar) };
  else stats = { mean: runningMean, variance: runningVar };
  const { y: out } = runProgram(bnNormalizeProgram({ gamma: !!gamma, beta: !!beta, relu }, layout.width, layout.run), {
    inputs: { x, mean: stats.mean, variance: stats.variance, ...(gamma ? { gamma } : {}), ...(beta ? { beta } : {}) },
    outputs: { y: x.shape },
    uniforms: elementwiseUniforms(x, layout, eps),
  });
  // In eval mode without a graph the statistics are the caller's running tensors, not ours to save or free.
  if (!training && !recording) return out;
  return batchNormOp.record(out, params, { eps, training, hasGamma: !!gamma, hasBeta: !!beta, relu }, stats);
}

interface BatchNormAttrs {
  eps: number;
  training: boolean;
  hasGamma: boolean;
  hasBeta: boolean;
  relu: boolean;
}

/**
 * The node saves the statistics the output was normalised with (the batch's, or a snapshot of the running ones);
 * a fused relu's mask comes from the output itself.
 */
const batchNormOp = defineOp<BatchNormAttrs, { mean: Tensor; variance: Tensor }>({
  name: 'batchNorm2d',
  grad: (g, node, out) => batchNormGrad(g, node, out),
});

function batchNormGrad(g: Tensor, node: GradNode<BatchNormAttrs, { mean: Tensor; variance: Tensor }>, out: Tensor): (Tensor | null)[] {
  const { eps, training, hasGamma, hasBeta, relu } = node.attrs;
  const { mean, variance } = node.saved;
  const [x, ...params] = node.inputs as [Tensor, ...Tensor[]];
  const gamma = hasGamma ? params[0]! : null;
  const layout = chunkLayout(x);
  const uniforms = elementwiseUniforms(x, layout, eps);
  // Channel sums of g and g * xhat: the beta and gamma gradients, and (batch statistics) terms of dx. With a
  // fused relu this pass always runs, since it also writes the masked upstream gradient dx is computed from.
  let sums: { g: Tensor; gXhat: Tensor } | null = null;
  let dy = g;
  if (relu || training || params.some((t) => t.requiresGrad)) {
    const part = runProgram(bnGradPartialProgram(relu, layout.width), {
      inputs: { dy: g, x, mean, variance, ...(relu ? { y: out } : {}) },
      outputs: { sumG: [layout.c, layout.chunks], sumGXhat: [layout.c, layout.chunks], ...(relu ? { maskedDy: x.shape } : {}) },
      uniforms: { ...chunkUniforms(layout), eps },
      trips: layout.chunkLen,
    });
    const total = runProgram(bnGradFinalizeProgram(), {
      inputs: { partialG: part.sumG, partialGXhat: part.sumGXhat },
      outputs: { sumG: [layout.c], sumGXhat: [layout.c] },
      uniforms: chunkUniforms(layout),
      trips: layout.chunks,
    });
    sums = { g: total.sumG, gXhat: total.sumGXhat };
    if (part.maskedDy) dy = part.maskedDy;
  }
  let dx: Tensor | null = null;
  if (x.requiresGrad) {
    dx = runProgram(bnInputGradProgram(training, !!gamma, layout.width, layout.run), {
      inputs: { x, mean, variance, dy, ...(gamma ? { gamma } : {}), ...(training ? { sumG: sums!.g, sumGXhat: sums!.gXhat } : {}) },
      outputs: { dx: x.shape },
      uniforms,
    }).dx;
  }
  return [dx, ...(hasGamma ? [sums?.gXhat ?? null] : []), ...(hasBeta ? [sums?.g ?? null] : [])];
}
