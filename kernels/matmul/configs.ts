/**
 * The matmul variants, the configurations (tile sizes) the autotuner may choose among, and the synchronous
 * heuristic used before (or instead of) a measurement.
 *
 * - 'shared': workgroup-shared tiling with register blocking (for real GPUs);
 * - 'register': barrier-free register tiling (fast on software adapters, and for small products);
 * - 'vector': the register blocks with vec4 operand loads (fast on llvmpipe, where loads are per-lane loops);
 *   products whose contiguous dimensions are not multiples of 4 run the 'register' kernel of the same block;
 * - 'naive': one output per invocation (the register kernel with a 1 x 1 block; for the tiniest products);
 * - 'uniform': the register blocks with both operands packed into 64 KiB uniform-buffer windows (fast on
 *   llvmpipe, where a uniform load is one vector gather and a storage load a loop over the lanes); batched
 *   products run the 'vector' configuration of the same block.
 */
import type { MatmulFlags, MatmulProgram } from './operands.js';
import { registerTiledProgram } from './register-tiled.js';
import { sharedTiledProgram } from './shared-tiled.js';
import { storesFit, vectorFits, vectorTiledProgram } from './vector-tiled.js';
import { packedBytes, uniformTiledProgram, windowShape } from './uniform-windows.js';
import { UNIFORM_WINDOW_BYTES, type KernelProgram } from '../program.js';

export type MatmulVariant = 'shared' | 'register' | 'vector' | 'naive' | 'uniform';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['shared', 'register', 'vector', 'naive', 'uniform'];

export interface MatmulConfig {
  variant: MatmulVariant;
  /** Rows and columns of C per invocation. */
  tm: number;
  tn: number;
  /** Invocations per workgroup along columns (x) and rows (y). */
  wgx: number;
  wgy: number;
  /** Depth of the workgroup-memory slabs ('shared' only; 0 otherwise). */
  tk: number;
}

/** The sizes of a product: C is batch x [m, n], the dot products have length k. */
export interface MatmulDims {
  m: number;
  n: number;
  k: number;
  batch: number;
}

/** A stable name, used by the tuning cache and by `setMatmulVariant`. */
export function configId(c: MatmulConfig): string {
  const block = c.variant === 'naive' ? '' : `-${c.tm}x${c.tn}`;
  return `${c.variant}${block}-wg${c.wgx}x${c.wgy}${c.variant === 'shared' ? `-k${c.tk}` : ''}`;
}

const config = (variant: MatmulVariant, tm: number, tn: number, wgx: number, wgy: number, tk = 0): MatmulConfig => ({
  variant,
  tm,
  tn,
  wgx,
  wgy,
  tk,
});

/** Every configuration the autotuner considers. */
export const MATMUL_CONFIGS: readonly MatmulConfig[] = [
  config('shared', 4, 4, 16, 16, 16),
  config('shared', 4, 4, 8, 8, 16),
  config('shared', 8, 8, 16, 16, 8),
  config('uniform', 16, 8, 8, 8),
  config('uniform', 8, 8, 8, 8),
  config('vector', 16, 8, 8, 8),
  config('vector', 8, 8, 8, 8),
  config('vector', 4, 8, 8, 8),
  config('vector', 4, 4, 8, 8),
  config('register', 16, 8, 4, 4),
  config('register', 8, 8, 8, 8),
  config('register', 4, 4, 8, 8),
  config('register', 2, 2, 8, 8),
  config('naive', 1, 1, 8, 8),
];

export function configById(id: string): MatmulConfig | undefined {
  return MATMUL_CONFIGS.find((c) => configId(c) === id);
}

/**
 * The configuration that actually runs a product: a 'vector' configuration whose product does not allow vec4
 * loads (see vectorFits) runs as the 'register' configuration of the same block and workgroup.
 */
export function runnableConfig(chosen: MatmulConfig, layout: OperandLayout, d: MatmulDims): MatmulConfig {
  // A batched product runs a 'uniform' configuration's block as 'vector' (the windows hold one matrix).
  const c: MatmulConfig = chosen.variant === 'uniform' && d.batch > 1 ? { ...chosen, variant: 'vector' } : chosen;
  return c.variant === 'vector' && !vectorFits(c, layout, d) ? { ...c, variant: 'register' } : c;
}

/** The device limits the 'uniform' configuration depends on. */
export type WindowLimits = Pick<
  GPUSupportedLimits,
  'maxUniformBufferBindingSize' | 'maxUniformBuffersPerShaderStage' | 'maxStorageBufferBindingSize' | 'maxBufferSize'
>;

/**
 * Whether a device can run the 'uniform' configuration: bind 9 uniform bindings of 64 KiB, and (for a product of
 * these sizes) hold and bind each packed operand whole.
 */
export function uniformWindowsFit(limits: WindowLimits, d?: Pick<MatmulDims, 'm' | 'n' | 'k'>): boolean {
  if (limits.maxUniformBufferBindingSize < UNIFORM_WINDOW_BYTES || limits.maxUniformBuffersPerShaderStage < 9) return false;
  if (!d) return true;
  const w = windowShape(d);
  const most = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return packedBytes(w, 'a') <= most && packedBytes(w, 'b') <= most;
}

/** A configuration the device can run: a 'uniform' one runs its block as 'vector' where the windows do not fit. */
export function deviceConfig(c: MatmulConfig, limits: WindowLimits, d?: Pick<MatmulDims, 'm' | 'n' | 'k'>): MatmulConfig {
  return c.variant === 'uniform' && !uniformWindowsFit(limits, d) ? { ...c, variant: 'vector' } : c;
}

/** The kernel of a runnable configuration (see runnableConfig) for a product of these sizes. */
export function matmulProgram(c: MatmulConfig, f: MatmulFlags, d: MatmulDims): MatmulProgram | KernelProgram {
  if (c.variant === 'uniform') return uniformTiledProgram(c, f, storesFit(d));
  if (c.variant === 'shared') return sharedTiledProgram(c, f);
  return c.variant === 'vector' ? vectorTiledProgram(c, f, storesFit(d)) : registerTiledProgram(c, f);
}

/**
 * The register configuration for a product with this many outputs: larger blocks load less per flop, once the
 * product is large enough to keep both cores of a small machine busy with them. (16 x 16 blocks are no faster
 * than 16 x 8 on SwiftShader and take three times as long to compile, so they are not offered.)
 */
function registerFor(outputs: number): string {
  if (outputs <= 64 * 64) return 'register-4x4-wg8x8';
  if (outputs < 128 * 128) return 'register-8x8-wg8x8';
  return 'register-16x8-wg4x4';
}

/** The shared configuration for a product with this many outputs: larger tiles once there are enough of them. */
function sharedFor(outputs: number): string {
  if (outputs < 64 * 64) return 'shared-4x4-wg8x8-k16';
  if (outputs < 512 * 512) return 'shared-4x4-wg16x16-k16';
  return 'shared-8x8-wg16x16-k8';
}

/**
 * The vector configuration for a product with this many outputs (the steps of registerFor, and one more). On
 * llvmpipe the 16 x 8 block beat 8 x 8 on every large product of the MLP step (forward, both adjoints) by 5-29%
 * and on 1024^3 by 8-18%, in two side-by-side runs: its spilled accumulators cost native stack loads, while every
 * operand float saved costs a per-lane load loop. It starts at 128 x 256 outputs, where its 128 x 64 workgroup
 * tiles still give both cores of a small machine work.
 */
function vectorFor(outputs: number): string {
  if (outputs <= 64 * 64) return 'vector-4x4-wg8x8';
  if (outputs < 128 * 128) return 'vector-4x8-wg8x8';
  if (outputs < 128 * 256) return 'vector-8x8-wg8x8';
  return 'vector-16x8-wg8x8';
}

/** The uniform-window configuration for a product with this many outputs (the 16 x 8 block where vectorFor takes it). */
function uniformFor(outputs: number): string {
  return outputs < 128 * 256 ? 'uniform-8x8-wg8x8' : 'uniform-16x8-wg8x8';
}

/**
 * Where llvmpipe's heuristic takes the uniform windows: single products with at least 128 x 256 outputs and a
 * depth of 64 or more. Side by side there (alternating, busy 2-core machine, bench:matmuls) the 16 x 8 uniform
 * block beat the 16 x 8 vector block on 1024^3 (1.72x) and on the MLP step's large products (1.11-1.37x, one
 * even: 0.98x); products with a side of 10 or a depth of 10 keep the vector and register blocks (mixed there:
 * 0.5-1.15x), as do batched products (the windows hold one matrix).
 */
function uniformPays(d: MatmulDims): boolean {
  return d.batch === 1 && d.m * d.n >= 128 * 256 && d.k >= 64;
}

/** How a product reads its operands: enough to tell whether it can take vec4 loads. */
export type OperandLayout = Pick<MatmulFlags, 'transposeA' | 'transposeB'>;

/** What the heuristic knows of the adapter (a subset of engine/gpu's AdapterDescription). */
export interface AdapterTraits {
  isFallbackAdapter: boolean;
  backend: string;
}

/**
 * The configuration to use without a measurement (or within a forced variant). Vector-like and tiny products
 * get one output per invocation, since a block would only compute clamped duplicates. Software adapters, where
 * barriers are very slow and every storage load is a per-lane gather, get the barrier-free blocks, larger for
 * larger products; so do small products on real GPUs, which could not fill them with shared tiles. Larger
 * products on real GPUs get the shared tiling. On llvmpipe (the software adapter behind OpenGL ES) they get the
 * vector configurations, which take vec4 loads where the product allows them and run as the register kernel of
 * the same block and workgroup where it does not (runnableConfig): on llvmpipe those blocks beat registerFor's
 * for the products that fall back too (the MLP's 128 x 256 x 10 input gradient: 16 x 8 in 8 x 8 invocations
 * 0.62 ms, registerFor's 16 x 8 in 4 x 4 0.94 ms). SwiftShader keeps scalar loads unless the autotuner measures
 * otherwise (it gathers each component of a vec4 on its own, so the gain there is unproven).
 */
export function heuristicConfig(d: MatmulDims, adapter: AdapterTraits, variant?: MatmulVariant): MatmulConfig {
  const outputs = d.m * d.n * d.batch;
  const barrierFree = variant === undefined && (adapter.isFallbackAdapter || outputs < 64 * 64);
  const vectorLoads = barrierFree && adapter.isFallbackAdapter && adapter.backend === 'opengles';
  let id: string;
  if (variant === 'naive' || (variant === undefined && (d.m <= 2 || d.n <= 2 || outputs <= 16))) id = 'naive-wg8x8';
  else if (vectorLoads && uniformPays(d)) id = 'uniform-16x8-wg8x8';
  else if (variant === 'uniform') id = uniformFor(outputs);
  else if (variant === 'vector' || vectorLoads) id = vectorFor(outputs);
  else if (variant === 'register' || barrierFree) id = registerFor(outputs);
  else id = sharedFor(outputs);
  return configById(id)!;
}
