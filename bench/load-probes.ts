/**
 * Load-cost probes: what one load costs the adapter, per invocation, next to one multiply-add. Each probe is a
 * small kernel that runs the same loop of independent fma chains and differs only in where its operand comes
 * from, so the difference between probes is the cost of that kind of load:
 *
 * - fma only (operands in registers): the adapter's multiply-add throughput;
 * - storage, per-invocation index (each lane reads its own address), scalar and vec4;
 * - storage, index the same for every invocation (a loop counter and the workgroup id only);
 * - workgroup memory, per-invocation index;
 * - uniform buffer, per-invocation index.
 *
 *   npm run bench:probes [-- --json FILE]
 *
 * What it showed on llvmpipe (Mesa 22.3.6, 256-bit, 2 cores), and why the GEMM kernels look the way they do:
 * a storage or workgroup load is a loop over the SIMD lanes (mask test, bounds test, one scalar load per lane)
 * whether or not the index is the same for every lane (only compile-time-constant offsets into a uniform
 * buffer become one scalar load), so each float loaded costs about 11-16 multiply-adds. A vec4 load is one
 * such loop for four floats: about two thirds of the cost per float (7 multiply-adds); a uniform-buffer load
 * with a per-invocation index is a vector gather (3). Hence the 'vector' matmul (vec4 loads along each
 * operand's contiguous dimension) and the vec4 row strips of the convolutions; the register blocks cannot grow
 * enough to hide the rest (32 vector registers), which is what keeps the GEMMs at a fraction of the fma rate.
 */
import * as E from '../engine/node.js';
import { parseBenchOptions } from './options.js';
import { hostInfo, num, printTable, writeJsonReport, type Column } from './report.js';

const options = parseBenchOptions(process.argv.slice(2), 'npm run bench:probes --');
await E.initEngine();
const device = E.runtime().device;
const adapter = E.adapterLabel(E.runtime().info);

const WORKGROUPS = 256;
const LANES = WORKGROUPS * 64;
/** Loop iterations per invocation: far below llvmpipe's 65,535 cap. */
const ITERATIONS = 1024;
/** Independent fma chains per iteration, all fed by the one operand the probe loads. */
const CHAINS = 4;
const WORDS = 1 << 18;

interface Probe {
  name: string;
  /** What the loop reads each iteration (an f32 or vec4f expression of i, w and l), and its declarations. */
  declarations: string;
  operand: string;
  vec4: boolean;
}

const storage = (t: string) => `@group(0) @binding(1) var<storage, read> src: array<${t}>;`;
const PROBES: Probe[] = [
  { name: 'fma only (operand in a register)', declarations: '', operand: 'f32(i) * 1e-7', vec4: false },
  { name: 'storage load, per-invocation index', declarations: storage('f32'), operand: `src[(i * 64u + l) % ${WORDS}u]`, vec4: false },
  { name: 'storage load, same index for all', declarations: storage('f32'), operand: `src[(w * 7u + i) % ${WORDS}u]`, vec4: false },
  {
    name: 'storage vec4 load, per-invocation index',
    declarations: storage('vec4f'),
    operand: `src[(i * 64u + l) % ${WORDS / 4}u]`,
    vec4: true,
  },
  {
    name: 'workgroup memory load, per-invocation index',
    declarations: `${storage('f32')}\nvar<workgroup> tile: array<f32, 1024>;`,
    operand: 'tile[(i * 64u + l) & 1023u]',
    vec4: false,
  },
  {
    name: 'uniform buffer vec4 load, per-invocation index',
    declarations: '@group(0) @binding(1) var<uniform> src: array<vec4f, 1024>;',
    operand: 'src[(i * 64u + l) & 1023u]',
    vec4: true,
  },
];

function probeWgsl(p: Probe): string {
  const t = p.vec4 ? 'vec4f' : 'f32';
  const chains = Array.from({ length: CHAINS }, (_, c) => c);
  const fill = p.declarations.includes('tile')
    ? 'for (var j = 0u; j < 16u; j++) { tile[j * 64u + l] = src[j * 64u + l]; }\n  workgroupBarrier();'
    : '';
  return `@group(0) @binding(0) var<storage, read_write> out: array<${t}>;
${p.declarations}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) l: u32) {
  let w = wid.x;
  ${fill}
  ${chains.map((c) => `var a${c} = ${t}(f32(l) * 1e-3 + ${c}.0);`).join('\n  ')}
  for (var i = 0u; i < ${ITERATIONS}u; i++) {
    let s = ${t}(${p.operand});
    ${chains.map((c) => `a${c} = fma(a${c}, s, ${t}(0.5));`).join('\n    ')}
  }
  out[w * 64u + l] = ${chains.map((c) => `a${c}`).join(' + ')};
}`;
}

/** Milliseconds per dispatch, the best of three rounds of enough dispatches to take about 200 ms. */
async function timeProbe(p: Probe): Promise<number> {
  const module = device.createShaderModule({ code: probeWgsl(p), label: p.name });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: p.name });
  const out = device.createBuffer({ size: LANES * 16, usage: GPUBufferUsage.STORAGE });
  const usesSource = p.declarations.includes('src');
  const isUniform = p.declarations.includes('var<uniform>');
  const src = device.createBuffer({
    size: isUniform ? 16 * 1024 : WORDS * 4,
    usage: (isUniform ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE) | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(
    src,
    0,
    Float32Array.from({ length: src.size / 4 }, (_, i) => (i % 97) / 97),
  );
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: out } }, ...(usesSource ? [{ binding: 1, resource: { buffer: src } }] : [])],
  });
  const run = async (count: number) => {
    const start = performance.now();
    const encoder = device.createCommandEncoder();
    for (let r = 0; r < count; r++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(WORKGROUPS);
      pass.end();
    }
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - start) / count;
  };
  const first = await run(1);
  const count = Math.max(1, Math.round(200 / Math.max(first, 0.01)));
  let best = Infinity;
  for (let round = 0; round < 3; round++) best = Math.min(best, await run(count));
  out.destroy();
  src.destroy();
  return best;
}

interface Row {
  probe: string;
  nsPerIteration: number;
  /** What one float loaded costs beyond the probe's multiply-adds: (time - fma-only time for the same fmas) / floats. */
  nsPerFloat: number | null;
  /** The same, in units of one multiply-add of the fma-only probe. */
  fmaPerFloat: number | null;
}

const rows: Row[] = [];
let fmaOnly = 0;
for (const p of PROBES) {
  const ns = ((await timeProbe(p)) * 1e6) / (LANES * ITERATIONS);
  if (rows.length === 0) {
    fmaOnly = ns;
    rows.push({ probe: p.name, nsPerIteration: ns, nsPerFloat: null, fmaPerFloat: null });
    continue;
  }
  // A vec4 probe does four times the multiply-adds of the fma-only probe, and loads four floats.
  const floats = p.vec4 ? 4 : 1;
  const nsPerFloat = (ns - floats * fmaOnly) / floats;
  rows.push({ probe: p.name, nsPerIteration: ns, nsPerFloat, fmaPerFloat: nsPerFloat / (fmaOnly / CHAINS) });
}

const columns: Column<Row>[] = [
  { title: 'probe', value: (r) => r.probe },
  { title: 'ns per invocation and iteration', value: (r) => num(r.nsPerIteration, 3), right: true },
  { title: 'ns per float loaded', value: (r) => num(r.nsPerFloat, 3), right: true },
  { title: 'in multiply-adds', value: (r) => num(r.fmaPerFloat, 1), right: true },
];
console.log(`load-cost probes on ${adapter}; ${LANES} invocations x ${ITERATIONS} iterations, ${CHAINS} fma chains each`);
printTable(columns, rows);
if (options.json) await writeJsonReport(options.json, { bench: 'load-probes', adapter, host: hostInfo(), rows });
