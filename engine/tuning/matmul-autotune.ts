/**
 * Chooses a matmul configuration (variant and tile sizes) per adapter and shape bucket, by measurement.
 *
 * `matmul()` is synchronous and a measurement is not, so tuning happens ahead: `tune(runtime, problems)` times
 * every candidate on synthetic buffers of each problem's size and records the fastest for its bucket, in memory
 * and in the adapter's cache file (see tuning-store.ts). `chooseConfig` is what each matmul call asks: a forced
 * configuration if one is set, else the tuned one for its bucket, else the synchronous heuristic. With autotuning
 * off (`setAutotuneEnabled(false)` or MLOCK_AUTOTUNE=0) only the heuristic is used, so runs are reproducible
 * across machines and cache states.
 */
import type { AdapterDescription } from '../gpu/adapter.js';
import type { Runtime } from '../runtime/runtime.js';
import {
  configById,
  configId,
  deviceConfig,
  heuristicConfig,
  MATMUL_CONFIGS,
  MATMUL_VARIANTS,
  type MatmulConfig,
  type MatmulDims,
  type MatmulVariant,
} from '../../kernels/matmul/configs.js';
import { matmulBindings, matmulDispatches, type MatmulBuffers } from '../../kernels/matmul/dispatch.js';
import { adapterKey, readTuning, writeTuning, type TuningEntry } from './tuning-store.js';

/** A product to tune for: its sizes and which operands are read transposed. */
export interface TuneProblem {
  dims: MatmulDims;
  transposeA: boolean;
  transposeB: boolean;
}

export interface TuneResult {
  bucket: string;
  /** The configuration matmul now uses for this bucket. */
  config: string;
  /** 'measured' now, read from the 'cache', or the 'heuristic' (autotuning off) or the 'forced' configuration. */
  source: 'measured' | 'cache' | 'heuristic' | 'forced';
  /** Milliseconds per product of each candidate timed (empty unless measured). */
  timesMs: Record<string, number>;
}

let enabled = !(typeof process !== 'undefined' && process.env?.MLOCK_AUTOTUNE === '0');
let forced: { variant: MatmulVariant } | { config: MatmulConfig } | null = null;
/** Tuned entries per adapter key, then per bucket. */
const tables = new Map<string, Map<string, TuningEntry>>();
/** Per adapter key: the cache file has been read into `tables`. */
const loaded = new Map<string, Promise<void>>();

export function setAutotuneEnabled(on: boolean): void {
  enabled = on;
}

export function autotuneEnabled(): boolean {
  return enabled;
}

/** Force a variant (its heuristic tile sizes) or one configuration by id, for every product; null lifts it. */
export function forceConfig(name: string | null): void {
  if (name === null) {
    forced = null;
    return;
  }
  if ((MATMUL_VARIANTS as readonly string[]).includes(name)) {
    forced = { variant: name as MatmulVariant };
    return;
  }
  const config = configById(name);
  if (!config) {
    const ids = MATMUL_CONFIGS.map(configId).join(', ');
    throw new Error(
      `setMatmulVariant: unknown variant '${name}'; expected one of ${MATMUL_VARIANTS.join(', ')}, a configuration (${ids}) or null`,
    );
  }
  forced = { config };
}

/** Forget every tuned choice held in memory (cache files stay; `prepare` reads them again). */
export function resetTuning(): void {
  tables.clear();
  loaded.clear();
}

const log2Bucket = (x: number) => (x <= 1 ? 0 : Math.ceil(Math.log2(x)));

/** Products in one bucket share a choice: same transposes, and each size in the same power-of-two range. */
export function shapeBucket(p: TuneProblem): string {
  const d = p.dims;
  return `${p.transposeA ? 't' : 'n'}${p.transposeB ? 't' : 'n'}-m${log2Bucket(d.m)}-n${log2Bucket(d.n)}-k${log2Bucket(d.k)}-b${log2Bucket(d.batch)}`;
}

function tableFor(info: AdapterDescription): Map<string, TuningEntry> {
  const key = adapterKey(info);
  let table = tables.get(key);
  if (!table) tables.set(key, (table = new Map<string, TuningEntry>()));
  return table;
}

/** The configuration a matmul of this problem runs with now. */
export function chooseConfig(info: AdapterDescription, p: TuneProblem): { config: MatmulConfig; source: TuneResult['source'] } {
  if (forced) {
    const config = 'config' in forced ? forced.config : heuristicConfig(p.dims, info, forced.variant);
    return { config, source: 'forced' };
  }
  if (enabled) {
    const tuned = tables.get(adapterKey(info))?.get(shapeBucket(p));
    const config = tuned && configById(tuned.config);
    if (config) return { config, source: 'cache' };
  }
  return { config: heuristicConfig(p.dims, info), source: 'heuristic' };
}

/** Read the adapter's cache file into memory (once per adapter; later calls wait for the same read). */
export function prepare(rt: Runtime): Promise<void> {
  const key = adapterKey(rt.info);
  let done = loaded.get(key);
  if (!done) {
    done = readTuning(rt.info).then((entries) => {
      const table = tableFor(rt.info);
      for (const [bucket, entry] of Object.entries(entries)) {
        // A choice made among other candidates than today's (configurations added or removed) is measured again.
        const current = MATMUL_CONFIGS.every((c) => deviceConfig(c, rt.limits) !== c || configId(c) in entry.timesMs);
        if (current && !table.has(bucket)) table.set(bucket, entry);
      }
    });
    loaded.set(key, done);
  }
  return done;
}

/** A candidate whose first timed run is this many times slower than the best so far is not timed further. */
const HOPELESS = 3;
/** Each candidate is timed over rounds of about this many milliseconds (at least one product per round). */
const ROUND_MS = 30;
const ROUNDS = 3;

/** Milliseconds per product of `config` on `problem`, or the first single-run time when it is hopeless. */
async function timeConfig(rt: Runtime, config: MatmulConfig, p: TuneProblem, buffers: GPUBuffer[], bestMs: number): Promise<number> {
  const flags = {
    transposeA: p.transposeA,
    transposeB: p.transposeB,
    batchRank: p.dims.batch > 1 ? 1 : 0,
    bias: false,
    relu: false,
    dropout: false,
  };
  const d = p.dims;
  const batch = d.batch > 1 ? { shape: [d.batch], aStride: [d.m * d.k], bStride: [d.k * d.n] } : { shape: [], aStride: [], bStride: [] };
  const plan = matmulDispatches(config, flags, d, batch);
  const packed = plan.packed ? [rt.uniformWindowBuffer(plan.packed.a), rt.uniformWindowBuffer(plan.packed.b)] : [];
  const bound: MatmulBuffers = { a: buffers[0]!, b: buffers[1]!, c: buffers[2]!, packedA: packed[0], packedB: packed[1] };
  const runs = async (count: number) => {
    const start = performance.now();
    for (let r = 0; r < count; r++) for (const dispatch of plan.dispatches) rt.run(dispatch, matmulBindings(dispatch, bound));
    await rt.sync();
    return (performance.now() - start) / count;
  };
  try {
    await runs(1); // compiles the pipeline and warms caches
    const first = await runs(1);
    if (first > HOPELESS * bestMs) return first;
    const count = Math.max(1, Math.round(ROUND_MS / Math.max(first, 1e-3)));
    let best = first;
    for (let r = 0; r < ROUNDS; r++) best = Math.min(best, await runs(count));
    return best;
  } finally {
    for (const p of packed) rt.pool.release(p);
  }
}

/**
 * Time every candidate on each problem whose bucket has no choice yet, keep the fastest, and save the new
 * choices to the adapter's cache file. Problems of one bucket are tuned once, on the first of them.
 */
export async function tune(rt: Runtime, problems: readonly TuneProblem[]): Promise<TuneResult[]> {
  await prepare(rt);
  const table = tableFor(rt.info);
  const fresh: Record<string, TuningEntry> = {};
  const results: TuneResult[] = [];
  for (const p of problems) {
    const bucket = shapeBucket(p);
    const current = chooseConfig(rt.info, p);
    if (current.source !== 'heuristic' || !enabled || p.dims.m * p.dims.n * p.dims.batch === 0) {
      results.push({ bucket, config: configId(current.config), source: current.source, timesMs: table.get(bucket)?.timesMs ?? {} });
      continue;
    }
    const entry = await measure(rt, p, current.config);
    table.set(bucket, entry);
    fresh[bucket] = entry;
    results.push({ bucket, config: entry.config, source: 'measured', timesMs: entry.timesMs });
  }
  if (Object.keys(fresh).length > 0) await writeTuning(rt.info, fresh);
  return results;
}

async function measure(rt: Runtime, p: TuneProblem, heuristic: MatmulConfig): Promise<TuningEntry> {
  const d = p.dims;
  const sizes = [d.batch * d.m * d.k, d.batch * d.k * d.n, d.batch * d.m * d.n];
  const buffers = sizes.map((n) => rt.storageBuffer(Math.max(4, n * 4), 'matmul autotune'));
  // Fixed, ordinary values: uninitialised memory could hold NaNs or denormals that are slow on some hardware.
  buffers.slice(0, 2).forEach((b, i) => rt.write(b, new Float32Array(sizes[i]!).fill(0.5)));
  await rt.sync();
  // The heuristic's choice goes first, so hopeless candidates are recognised from their first run.
  // Configurations the device cannot run (uniform windows where uniform bindings are small, or where a packed
  // operand would exceed a buffer or binding) are not candidates.
  const first = configById(configId(deviceConfig(heuristic, rt.limits, p.dims)))!;
  const order = [first, ...MATMUL_CONFIGS.filter((c) => c !== first && deviceConfig(c, rt.limits, p.dims) === c)];
  const timesMs: Record<string, number> = {};
  let best = first;
  let bestMs = Infinity;
  try {
    for (const config of order) {
      const ms = await timeConfig(rt, config, p, buffers, bestMs);
      timesMs[configId(config)] = ms;
      if (ms < bestMs) [best, bestMs] = [config, ms];
    }
  } finally {
    for (const b of buffers) rt.pool.release(b);
  }
  return { config: configId(best), timesMs };
}
