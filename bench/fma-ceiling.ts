/**
 * The adapter's compute ceiling, measured: a kernel that does nothing but multiply-adds on eight independent vec4
 * accumulators per invocation (workgroup 64), so no load, barrier or dependency chain limits it. It runs in two
 * forms, WGSL's `fma()` and a plain `a * m + c` (which our kernels write), and the faster counts: which one an
 * adapter's compiler turns into the better code differs (on the 2-core development machine, under load: llvmpipe
 * about 22 GFLOP/s for both; SwiftShader 1.9 for `fma()`, 1.1 for `a * m + c`). Benchmarks
 * report every kernel's GFLOP/s as a fraction of this number: on a software adapter it says how much of what the
 * adapter's compiler can deliver on these cores a kernel reaches, which a CPU's nominal peak would not.
 *
 * It is a measurement, not an op, so it lives here and runs on the engine's device through raw WebGPU
 * (`runtime().device`), outside the engine's dispatch path.
 */
import { runtime, sync } from '../engine/node.js';
import { timeInBursts, type RepeatPlan } from './timing.js';

/**
 * Loop iterations per invocation. Mesa's llvmpipe silently stops a loop after 65,535 iterations per invocation
 * (all loops together), which would cut the work short and overstate the ceiling; this stays far below.
 */
const ITERATIONS = 4096;
const LLVMPIPE_LOOP_CAP = 65535;
if (ITERATIONS >= LLVMPIPE_LOOP_CAP) throw new Error('fma ceiling probe: iterations must stay under llvmpipe loop cap');

const WORKGROUP = 64;
const ACCUMULATORS = 8;
/** Floating-point operations of one invocation: per iteration, each accumulator does 4 lanes x (multiply + add). */
const FLOPS_PER_INVOCATION = ITERATIONS * ACCUMULATORS * 4 * 2;

/** The two ways WGSL spells a multiply-add. */
export type MultiplyAdd = 'fma' | 'mul+add';

/**
 * Multiplier and addend come from a uniform so the compiler cannot fold the chain; `m` just under 1 keeps every
 * value finite. The sum of the accumulators is stored so none of the work is dead.
 */
function probeWgsl(form: MultiplyAdd): string {
  const accumulators = Array.from({ length: ACCUMULATORS }, (_, i) => i);
  const step = (i: number) => (form === 'fma' ? `acc${i} = fma(acc${i}, m, a);` : `acc${i} = acc${i} * m + a;`);
  return /* wgsl */ `
struct Params { m: vec4<f32>, a: vec4<f32> }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> sums: array<vec4<f32>>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let seed = f32(gid.x) * 1e-7;
  let m = params.m;
  let a = params.a;
${accumulators.map((i) => `  var acc${i} = vec4<f32>(seed + ${i}.0 * 1e-3);`).join('\n')}
  for (var i = 0u; i < ${ITERATIONS}u; i++) {
${accumulators.map((i) => `    ${step(i)}`).join('\n')}
  }
  sums[gid.x] = ${accumulators.map((i) => `acc${i}`).join(' + ')};
}
`;
}

export interface FmaCeiling {
  /** The fastest timed run of the faster form (a ceiling is what the adapter can do; other load only slows runs down). */
  gflops: number;
  medianGflops: number;
  /** The form that gave `gflops`, and each form's fastest run. */
  form: MultiplyAdd;
  byForm: Record<MultiplyAdd, number>;
  /** Dispatches per timed run (sized so a run lasts 100-300 ms) and workgroups per dispatch. */
  dispatches: number;
  workgroups: number;
  iterationsPerInvocation: number;
}

/** Measure the multiply-add ceiling of the engine's adapter (the engine must be initialised). */
export async function measureFmaCeiling(options: { quick?: boolean } = {}): Promise<FmaCeiling> {
  await sync();
  const fused = await measureForm('fma', options.quick ?? false);
  const plain = await measureForm('mul+add', options.quick ?? false);
  const best = fused.gflops >= plain.gflops ? fused : plain;
  return { ...best, byForm: { fma: fused.gflops, 'mul+add': plain.gflops } };
}

async function measureForm(form: MultiplyAdd, quick: boolean): Promise<Omit<FmaCeiling, 'byForm'>> {
  const { device, info } = runtime();
  // Enough invocations to fill a GPU (a software adapter has a few cores; more just makes a dispatch longer).
  const workgroups = info.isFallbackAdapter ? 256 : 16384;
  const invocations = workgroups * WORKGROUP;
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: probeWgsl(form), label: `fma ceiling probe (${form})` }), entryPoint: 'main' },
  });
  const params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, new Float32Array([0.999, 0.999, 0.999, 0.999, 1e-3, 1e-3, 1e-3, 1e-3]));
  const sums = device.createBuffer({ size: invocations * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: params } },
      { binding: 1, resource: { buffer: sums } },
    ],
  });

  /** `dispatches` probe dispatches in one submit, ending with a readback of one result. */
  const run = async (dispatches: number) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < dispatches; i++) pass.dispatchWorkgroups(workgroups);
    pass.end();
    encoder.copyBufferToBuffer(sums, (invocations - 1) * 16, readback, 0, 16);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const last = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    if (!last.every(Number.isFinite)) throw new Error(`fma ceiling probe: non-finite result ${last.join(', ')}`);
  };

  try {
    const plan: RepeatPlan = quick
      ? { warmup: 0, minRepeats: 2, maxRepeats: 3, budgetMs: 300 }
      : { warmup: 1, minRepeats: 5, maxRepeats: 9, budgetMs: 3000 };
    const { msPerUnit, bestMsPerUnit, burst } = await timeInBursts(run, plan, quick ? 100 : 300);
    const flops = invocations * FLOPS_PER_INVOCATION;
    return {
      form,
      gflops: flops / (bestMsPerUnit * 1e6),
      medianGflops: flops / (msPerUnit * 1e6),
      dispatches: burst,
      workgroups,
      iterationsPerInvocation: ITERATIONS,
    };
  } finally {
    params.destroy();
    sums.destroy();
    readback.destroy();
  }
}

/** A kernel's GFLOP/s as a fraction of the ceiling (null when either is unknown). */
export function fractionOfCeiling(gflops: number | null | undefined, ceilingGflops: number | null | undefined): number | null {
  if (gflops == null || ceilingGflops == null || !(ceilingGflops > 0) || !Number.isFinite(gflops)) return null;
  return gflops / ceilingGflops;
}

/** One line for a benchmark's log. */
export function describeCeiling(c: FmaCeiling): string {
  return `${c.gflops.toFixed(1)} GFLOP/s (best run, ${c.form}; fma() ${c.byForm.fma.toFixed(1)}, a * m + c ${c.byForm['mul+add'].toFixed(1)}; median of the faster ${c.medianGflops.toFixed(1)})`;
}
