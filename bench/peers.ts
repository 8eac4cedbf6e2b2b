/**
 * Our engine side by side with PyTorch, in one run: the training steps of bench:train's networks (the MLP, the
 * VGG-style net at widths 8 and 32) and square matmuls. On the CPU, PyTorch is what a user without a GPU would
 * run instead; the engine runs on its default adapter (llvmpipe here; MLOCK_BACKEND / MLOCK_ADAPTER choose).
 *
 *   npm run bench:peers [-- --quick] [-- --json FILE] [-- --markdown FILE] [-- --device cpu|cuda]
 *
 * Same methodology on both sides: warm-up, then timed work ending with a readback. Training: N steps enqueued
 * back to back, images/s = N * batch / time. Matmul: bursts of products sized to last about `RUN_MS`, median.
 * PyTorch tries 1 and 2 threads on the CPU and keeps the faster per row. Ratio = ours / PyTorch (above 1: ours
 * is faster). '% ceiling' is our GFLOP/s as a fraction of the adapter's measured FMA ceiling (fma-ceiling.ts);
 * for training, GFLOP/s counts the GEMM layers' work (forward and both adjoints) only.
 */
import * as E from '../engine/node.js';
import type { Sequential } from '../engine/nn/index.js';
import { describeCeiling, fractionOfCeiling, measureFmaCeiling } from './fma-ceiling.js';
import { mlpWorkload, syntheticBatches, timeOurTraining, tuneModelMatmuls, vggWorkload, type TrainingWorkload } from './networks.js';
import { parseBenchOptions } from './options.js';
import { hostInfo, num, percent, printTable, ratio, writeJsonReport, writeMarkdownReport, type Column } from './report.js';
import { uniformValues } from './synthetic.js';
import { timeInBursts, type RepeatPlan } from './timing.js';
import { bestOf, findTorchPython, TorchProcess, type TorchDevice, type TorchHello } from './torch-peer.js';
import { torchTwin } from './torch-twin.js';

const options = parseBenchOptions(process.argv.slice(2), 'npm run bench:peers --', [{ flag: '--device', values: ['cpu', 'cuda'] }]);
const device = options.choices.device as TorchDevice;
await E.initEngine({ logger: (m) => console.log(m) });
const adapter = E.runtime().info;
const host = hostInfo();

/** A matmul run lasts about this long (ms), in bursts of products. */
const RUN_MS = options.quick ? 30 : 100;
const plan: RepeatPlan = options.quick
  ? { warmup: 0, minRepeats: 2, maxRepeats: 3, budgetMs: 300 }
  : { warmup: 1, minRepeats: 3, maxRepeats: 9, budgetMs: 3000 };

interface TrainCase extends TrainingWorkload {
  warmup: number;
  steps: number;
}

function trainCases(quick: boolean): TrainCase[] {
  return [
    { ...mlpWorkload(128), warmup: quick ? 1 : 5, steps: quick ? 3 : 30 },
    { ...vggWorkload(8, 64), warmup: 1, steps: quick ? 2 : 10 },
    // Width 32 at batch 64 takes about a second per step on llvmpipe: quick runs use batch 16.
    { ...vggWorkload(32, quick ? 16 : 64), warmup: 1, steps: quick ? 1 : 5 },
  ];
}

const squares = options.quick ? [256, 512] : [256, 512, 1024, ...(adapter.isFallbackAdapter ? [] : [2048, 4096])];

interface PeerResult {
  threads: number;
  value: number | null;
  error?: string;
}

export interface PeerRow {
  work: string;
  unit: 'img/s' | 'GFLOP/s';
  ours: number | null;
  /** Our GFLOP/s (training: the GEMM layers' work only) and its fraction of the FMA ceiling. */
  oursGflops: number | null;
  ceilingFraction: number | null;
  torch: PeerResult[];
  /** The faster PyTorch result, and ours / it. */
  torchBest: PeerResult | null;
  ratio: number | null;
  oursError?: string;
}

const errorText = (err: unknown) => (err as Error).message.split('\n')[0]!;

/** Our side of a row: its number, or the first line of the error that stopped it. */
async function attempt(run: () => Promise<number>): Promise<{ ours: number | null; oursError?: string }> {
  try {
    return { ours: await run() };
  } catch (err) {
    return { ours: null, oursError: errorText(err) };
  }
}

async function ourTraining(model: Sequential, c: TrainCase): Promise<number> {
  await tuneModelMatmuls(model, c.batch, options.quick);
  return timeOurTraining(model, c, syntheticBatches(c, new E.Rng(7)), c.warmup, c.steps);
}

async function ourMatmul(n: number): Promise<number> {
  const rng = new E.Rng(n);
  const a = E.tensor(uniformValues(n * n, rng), [n, n]);
  const b = E.tensor(uniformValues(n * n, rng), [n, n]);
  try {
    if (!options.quick) await E.tuneMatmul([{ a: [n, n], b: [n, n] }], { withGradients: false });
    const { msPerUnit } = await timeInBursts(
      async (products) => {
        let out: E.Tensor | null = null;
        for (let i = 0; i < products; i++) {
          out?.dispose();
          out = E.matmul(a, b);
        }
        await out!.data();
        out!.dispose();
      },
      plan,
      RUN_MS,
    );
    return (2 * n ** 3) / (msPerUnit * 1e6);
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Every PyTorch process's answer to one request, as numbers (or the error each gave). */
async function askTorch(peers: readonly TorchProcess[], req: Record<string, unknown>, key: 'imgPerSec' | 'gflops'): Promise<PeerResult[]> {
  const results: PeerResult[] = [];
  // One at a time: the peers must not share the cores with each other (or with us).
  for (const p of peers) {
    try {
      results.push({ threads: p.threads, value: (await p.request(req))[key] as number });
    } catch (err) {
      results.push({ threads: p.threads, value: null, error: errorText(err) });
    }
  }
  return results;
}

function finish(row: Omit<PeerRow, 'torchBest' | 'ratio' | 'ceilingFraction'>, ceilingGflops: number): PeerRow {
  const torchBest = bestOf(row.torch);
  const r = row.ours !== null && torchBest ? row.ours / torchBest.value! : null;
  return { ...row, torchBest, ratio: r, ceilingFraction: fractionOfCeiling(row.oursGflops, ceilingGflops) };
}

// PyTorch first (it may need installing), then the ceiling, then the rows, each ours then PyTorch's.
const found = findTorchPython(device);
const threadCounts = device === 'cpu' ? [1, 2] : [1];
const peers = 'python' in found ? threadCounts.map((t) => TorchProcess.start(found.python, device, t)) : [];
let torchInfo: TorchHello | null = null;
let torchSkipped = 'skipped' in found ? found.skipped : null;
if (peers.length > 0) {
  try {
    torchInfo = (await peers[0]!.request({ kind: 'hello' })) as unknown as TorchHello;
  } catch (err) {
    torchSkipped = `torch_peer.py did not start: ${errorText(err)}`;
    peers.splice(0).forEach((p) => p.close());
  }
}
console.log(`engine adapter: ${E.adapterLabel(adapter)}`);
console.log(
  torchInfo
    ? `PyTorch ${torchInfo.torch} on ${torchInfo.deviceName ?? device} (${'python' in found ? found.python : ''}), BLAS: ${torchInfo.blas}`
    : `PyTorch: SKIPPED (${torchSkipped})`,
);

const ceiling = await measureFmaCeiling({ quick: options.quick });
console.log(`FMA ceiling of this adapter: ${describeCeiling(ceiling)}`);

const rows: PeerRow[] = [];
for (const c of trainCases(options.quick)) {
  const model = c.model();
  const twin = torchTwin(model, c.inputShape);
  const label = `${c.name}, batch ${c.batch}`;
  console.log(`  ${label}: ${c.warmup} warm-up + ${c.steps} timed steps per side`);
  const { ours, oursError } = await attempt(() => ourTraining(model, c));
  model.dispose();
  const req = {
    kind: 'train',
    layers: twin.layers,
    inputShape: c.inputShape,
    classes: c.classes,
    batch: c.batch,
    optimizer: c.optimizer,
    warmup: c.warmup,
    steps: c.steps,
  };
  const torch = await askTorch(peers, req, 'imgPerSec');
  rows.push(
    finish(
      { work: label, unit: 'img/s', ours, oursGflops: ours === null ? null : (ours * twin.gemmFlopsPerImage) / 1e9, torch, oursError },
      ceiling.gflops,
    ),
  );
}
for (const n of squares) {
  console.log(`  matmul ${n}x${n} @ ${n}x${n}`);
  const { ours, oursError } = await attempt(() => ourMatmul(n));
  const torch = await askTorch(peers, { kind: 'matmul', n, runMs: RUN_MS, ...plan }, 'gflops');
  rows.push(finish({ work: `matmul ${n}`, unit: 'GFLOP/s', ours, oursGflops: ours, torch, oursError }, ceiling.gflops));
}
peers.forEach((p) => p.close());

const torchColumn = (threads: number): Column<PeerRow> => ({
  title: device === 'cpu' ? `torch ${threads}t` : 'torch',
  value: (r) => {
    const t = r.torch.find((x) => x.threads === threads);
    return t?.error ? 'error' : num(t?.value);
  },
  right: true,
});
const columns: Column<PeerRow>[] = [
  { title: 'work', value: (r) => r.work },
  { title: 'unit', value: (r) => r.unit },
  { title: 'ours', value: (r) => (r.oursError ? 'FAILED' : num(r.ours)), right: true },
  { title: 'PyTorch best', value: (r) => num(r.torchBest?.value), right: true },
  ...(device === 'cpu'
    ? [
        {
          title: 'best of',
          value: (r: PeerRow) => (r.torchBest ? `${r.torchBest.threads} thread${r.torchBest.threads > 1 ? 's' : ''}` : '-'),
        },
      ]
    : []),
  { title: 'ours/PyTorch', value: (r) => ratio(r.ratio), right: true },
  { title: 'ours GFLOP/s', value: (r) => num(r.oursGflops), right: true },
  { title: '% ceiling', value: (r) => percent(r.ceilingFraction), right: true },
  ...threadCounts.map(torchColumn),
];
const notes = [
  `engine: ${E.adapterLabel(adapter)}; FMA ceiling ${num(ceiling.gflops)} GFLOP/s. PyTorch: ${torchInfo ? `${torchInfo.torch} on ${torchInfo.deviceName ?? device}, BLAS ${torchInfo.blas}` : `skipped (${torchSkipped})`}.`,
  `ours/PyTorch = our throughput / PyTorch's best (above 1: ours is faster); % ceiling = our GFLOP/s / the FMA ceiling (training: GEMM layers only).`,
  `host: ${host.cpus} CPUs, load average ${host.loadAverage.map((l) => l.toFixed(1)).join(' ')} at the start${options.quick ? '; quick run (fewer steps, smaller sizes)' : ''}.`,
];
console.log('');
notes.forEach((n) => console.log(n));
printTable(columns, rows);
for (const r of rows) {
  for (const t of r.torch.filter((x) => x.error)) console.log(`  ${r.work}: PyTorch ${t.threads} thread(s) failed: ${t.error}`);
  if (r.oursError) console.log(`  ${r.work}: ours failed: ${r.oursError}`);
}

if (options.json)
  await writeJsonReport(options.json, {
    adapter,
    host,
    quick: options.quick,
    device,
    torch: torchInfo,
    torchSkipped,
    fmaCeiling: ceiling,
    rows,
  });
if (options.markdown) await writeMarkdownReport(options.markdown, `bench:peers: this engine vs PyTorch (${device})`, columns, rows, notes);
if (rows.some((r) => r.oursError)) process.exitCode = 1;
