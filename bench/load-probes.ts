/**
 * Load-cost probes: what one load costs the adapter, per invocation, next to one multiply-add. Each probe is a
 * small kernel that runs the same loop of independent fma chains and differs only in where its operand comes
 * from, so the difference between probes is the cost of that kind of load:
 *
 * - fma only (operands in registers): the adapter's multiply-add throughput;
 * - storage, per-invocation index (each lane reads its own address), scalar and vec4;
 * - storage, index the same for every invocation (a loop counter and the workgroup id only);
 * - workgroup memory, per-invocation index;
 * - uniform buffer, per-invocation index;
 * - then GEMM inner loops with the matmul's A operand from storage or a uniform buffer, with a per-invocation or a
 *   workgroup-uniform index (below).
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
 *
 * The second table runs the vector matmul's own inner loop (an 8 x 8 block, one vec4 of A' and of B' per row and
 * column per four depth steps, `acc + a * b`) with A' read (a) from storage with a per-invocation index, as the
 * matmul does, (b) from a 64 KiB uniform buffer (array<vec4f, 4096>) with a per-invocation index, (c) from storage
 * with an index that is the same for the whole workgroup (workgroup id and loop counter only), (d) from the
 * uniform buffer with that index; B' from registers (the FMA-heavy form, which isolates A's loads) or loaded per
 * invocation from storage (what a matmul does), and a last row with both from uniform buffers. Measured on
 * llvmpipe (2 cores, busy: another job training a network; medians of 7 alternating rounds, two runs): with B' in
 * registers (b) 1.45-1.48x and (d) 1.42-1.45x the GFLOP/s of (a), (c) 1.00-1.02x; with B' loaded as today (b)
 * only 1.20-1.26x, (d) 1.17-1.20x, (c) 0.97-0.99x; both operands in uniform buffers 1.51-1.52x. A
 * workgroup-uniform index gains nothing on storage and nothing beyond (b) on a uniform buffer (gallivm treats
 * every non-constant index as per-lane); what pays is a uniform buffer's gather, for both operands: the 'uniform'
 * matmul (kernels/matmul/uniform-windows.ts).
 */
import { loadavg } from 'node:os';
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
/** Milliseconds per dispatch of `count` back-to-back dispatches of one pipeline, ending with the queue drained. */
function repeatedDispatch(device: GPUDevice, pipeline: GPUComputePipeline, group: GPUBindGroup, workgroups: number) {
  return async (count: number): Promise<number> => {
    const start = performance.now();
    const encoder = device.createCommandEncoder();
    for (let r = 0; r < count; r++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(workgroups);
      pass.end();
    }
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - start) / count;
  };
}

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
  const run = repeatedDispatch(device, pipeline, group, WORKGROUPS);
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

const loadColumns: Column<Row>[] = [
  { title: 'probe', value: (r) => r.probe },
  { title: 'ns per invocation and iteration', value: (r) => num(r.nsPerIteration, 3), right: true },
  { title: 'ns per float loaded', value: (r) => num(r.nsPerFloat, 3), right: true },
  { title: 'in multiply-adds', value: (r) => num(r.fmaPerFloat, 1), right: true },
];
console.log(`load-cost probes on ${adapter}; ${LANES} invocations x ${ITERATIONS} iterations, ${CHAINS} fma chains each`);
printTable(loadColumns, rows);

// ---------------------------------------------------------------------------------------------------------------
// GEMM inner-loop probes: where a matmul's A operand comes from, in the vector matmul's own inner loop.
// ---------------------------------------------------------------------------------------------------------------

/** The register block of one invocation (rows x columns of C), as in the vector matmul's 8 x 8 configuration. */
const BM = 8;
const BN = 8;
/** Depth quads per invocation (4 depth steps each): far below llvmpipe's cap. */
const QUADS = 512;
const GEMM_WORKGROUPS = 64;
const GEMM_LANES = GEMM_WORKGROUPS * 64;
/** A uniform binding holds 64 KiB: 4,096 vec4s. */
const UNIFORM_VEC4S = 4096;
const B_VEC4S = 1 << 16;

type ASource = 'register' | 'storage' | 'uniform';
type AIndex = 'lane' | 'workgroup';
interface GemmProbe {
  name: string;
  a: ASource;
  index: AIndex;
  /** Where B' comes from: registers, or per-invocation vec4 loads from storage (as today) or a uniform buffer. */
  loadB: 'register' | 'storage' | 'uniform';
}

const gemmProbes = (loadB: GemmProbe['loadB']): GemmProbe[] => {
  const b = `B ${loadB}`;
  return [
    { name: `A registers, ${b}`, a: 'register', index: 'lane', loadB },
    { name: `(a) A storage, per-invocation index, ${b}`, a: 'storage', index: 'lane', loadB },
    { name: `(b) A uniform, per-invocation index, ${b}`, a: 'uniform', index: 'lane', loadB },
    { name: `(c) A storage, workgroup-uniform index, ${b}`, a: 'storage', index: 'workgroup', loadB },
    { name: `(d) A uniform, workgroup-uniform index, ${b}`, a: 'uniform', index: 'workgroup', loadB },
  ];
};
const GEMM_PROBES = [
  ...gemmProbes('register'),
  ...gemmProbes('storage'),
  { name: '(b) A uniform, per-invocation index, B uniform', a: 'uniform', index: 'lane', loadB: 'uniform' },
] satisfies GemmProbe[];

/**
 * One invocation's loop: per depth quad, BM vec4 loads of A' along the depth (one per row of the block), BN of
 * B' (or register values), then the block's 4 x BM x BN multiply-adds written as the GEMM core writes them
 * (acc + a * b). Row i of the block starts at aRow_i = base_i * 64 vec4s; base_i is the invocation's own row
 * (index 'lane': every lane reads its own address) or the workgroup's (index 'workgroup': every lane of the
 * workgroup reads the same address, which depends on the workgroup id and the loop counter only).
 */
function gemmProbeWgsl(p: GemmProbe): string {
  const rows = Array.from({ length: BM }, (_, i) => i);
  const cols = Array.from({ length: BN }, (_, j) => j);
  const aMask = UNIFORM_VEC4S - 1;
  const aDecl =
    p.a === 'uniform'
      ? `@group(0) @binding(1) var<uniform> a: array<vec4f, ${UNIFORM_VEC4S}>;`
      : p.a === 'storage'
        ? '@group(0) @binding(1) var<storage, read> a: array<vec4f>;'
        : '';
  const who = p.index === 'lane' ? 'l' : 'w';
  const aRows = rows.map((i) => `let aRow${i} = (${who} * ${BM}u + ${i}u) * 8u;`);
  const bCols = cols.map((j) => `let bCol${j} = (l * ${BN}u + ${j}u) * 64u;`);
  const aLoad = (i: number) => (p.a === 'register' ? `let av${i} = vec4f(fk + ${i}.0);` : `let av${i} = a[(aRow${i} + q) & ${aMask}u];`);
  const bMask = p.loadB === 'uniform' ? UNIFORM_VEC4S - 1 : B_VEC4S - 1;
  const bLoad = (j: number) =>
    p.loadB !== 'register' ? `let bv${j} = b[(bCol${j} + q) & ${bMask}u];` : `let bv${j} = vec4f(fk * 0.5 + ${j}.0);`;
  const steps = [0, 1, 2, 3].flatMap((s) =>
    rows.flatMap((i) => cols.map((j) => `acc${i}_${j} = acc${i}_${j} + av${i}[${s}] * bv${j}[${s}];`)),
  );
  return `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
${aDecl}
${
  p.loadB === 'storage'
    ? '@group(0) @binding(2) var<storage, read> b: array<vec4f>;'
    : p.loadB === 'uniform'
      ? `@group(0) @binding(2) var<uniform> b: array<vec4f, ${UNIFORM_VEC4S}>;`
      : ''
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) l: u32) {
  let w = wid.x;
  ${[...aRows, ...bCols].join('\n  ')}
  ${rows.flatMap((i) => cols.map((j) => `var acc${i}_${j} = 0.0;`)).join('\n  ')}
  for (var q = 0u; q < ${QUADS}u; q++) {
    let fk = f32(q) * 1e-7;
    ${[...rows.map(aLoad), ...cols.map(bLoad), ...steps].join('\n    ')}
  }
  out[w * 64u + l] = ${rows.flatMap((i) => cols.map((j) => `acc${i}_${j}`)).join(' + ')};
}`;
}

interface GemmPipeline {
  probe: GemmProbe;
  run: (count: number) => Promise<number>;
  release: () => void;
}

function gemmPipeline(p: GemmProbe): GemmPipeline {
  const module = device.createShaderModule({ code: gemmProbeWgsl(p), label: p.name });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: p.name });
  const buffers: GPUBuffer[] = [];
  const filled = (size: number, usage: number) => {
    const buffer = device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(
      buffer,
      0,
      Float32Array.from({ length: size / 4 }, (_, i) => ((i % 97) - 48) / 97),
    );
    buffers.push(buffer);
    return buffer;
  };
  const out = filled(GEMM_LANES * 4, GPUBufferUsage.STORAGE);
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: out } }];
  if (p.a !== 'register') {
    const usage = p.a === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE;
    entries.push({ binding: 1, resource: { buffer: filled(UNIFORM_VEC4S * 16, usage) } });
  }
  if (p.loadB === 'storage') entries.push({ binding: 2, resource: { buffer: filled(B_VEC4S * 16, GPUBufferUsage.STORAGE) } });
  if (p.loadB === 'uniform') entries.push({ binding: 2, resource: { buffer: filled(UNIFORM_VEC4S * 16, GPUBufferUsage.UNIFORM) } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const run = repeatedDispatch(device, pipeline, group, GEMM_WORKGROUPS);
  return { probe: p, run, release: () => buffers.forEach((b) => b.destroy()) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface GemmRow {
  probe: string;
  gflops: number;
  best: number;
  /** GFLOP/s relative to (a) in the same family (B registers, or B loaded). */
  vsStorageLane: number;
}

const GEMM_FLOPS = 2 * BM * BN * 4 * QUADS * GEMM_LANES;
const gemms = GEMM_PROBES.map(gemmPipeline);
// Warm-up (compilation) and a dispatch count per variant that lasts about 100 ms.
const counts: number[] = [];
for (const g of gemms) {
  await g.run(1);
  counts.push(Math.max(1, Math.round(100 / Math.max(await g.run(1), 0.05))));
}
const ROUNDS = options.quick ? 3 : 7;
const samples: number[][] = gemms.map(() => []);
// Rounds alternate the variants, so a change in the machine's load hits all of them alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const [v, g] of gemms.entries()) samples[v]!.push(await g.run(counts[v]!));
}
gemms.forEach((g) => g.release());
const gemmRows: GemmRow[] = gemms.map((g, v) => ({
  probe: g.probe.name,
  gflops: GEMM_FLOPS / (median(samples[v]!) * 1e6),
  best: GEMM_FLOPS / (Math.min(...samples[v]!) * 1e6),
  vsStorageLane: 0,
}));
for (const row of gemmRows) {
  const family = row.probe.endsWith('B register') ? 'B register' : 'B storage';
  const reference = gemmRows.find((r) => r.probe.startsWith('(a)') && r.probe.endsWith(family))!;
  row.vsStorageLane = row.gflops / reference.gflops;
}
console.log(
  `\nGEMM inner-loop probes on ${adapter}: ${BM} x ${BN} block per invocation, ${QUADS} depth quads, ${GEMM_LANES} invocations; ` +
    `median of ${ROUNDS} alternating rounds (load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')})`,
);
const gemmColumns: Column<GemmRow>[] = [
  { title: 'A operand from', value: (r) => r.probe },
  { title: 'GFLOP/s (median)', value: (r) => num(r.gflops, 1), right: true },
  { title: 'best', value: (r) => num(r.best, 1), right: true },
  { title: 'vs (a)', value: (r) => `${r.vsStorageLane.toFixed(2)}x`, right: true },
];
printTable(gemmColumns, gemmRows);
if (options.json) await writeJsonReport(options.json, { bench: 'load-probes', adapter, host: hostInfo(), rows, gemmRows });
