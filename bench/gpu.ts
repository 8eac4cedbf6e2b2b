/**
 * One command for a GPU machine: the kernel and engine test suites on the hardware adapter, bench:kernels and
 * bench:train against TF.js-WebGPU on that adapter, bench:peers against PyTorch on CUDA (with matmul 4096), and
 * the matmul 4096 throughput as a fraction of the card's published fp32 peak; one JSON file and one Markdown
 * table in the output folder.
 *
 *   npm run bench:gpu [-- --quick] [-- --out DIR] [-- --budget SECONDS]
 *
 * Each step runs in its own process under a time guard: the budget (480 s by default, so the whole run fits in
 * 8 minutes; 600 s for --quick) is shared among the steps still to run in proportion to their weights, and a step that overruns its
 * share is killed and reported as timed out. `--quick` is the same pipeline for a software adapter: one test
 * file, the benchmarks' quick forms, PyTorch on the CPU, and the largest matmul the quick runs have.
 */
// The engine's Node entry first (it registers the WebGPU globals the report writer's modules expect); no device is opened here.
import '../engine/node.js';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { dawnWarningFilter } from '../scripts/without-dawn-warnings.js';
import { fp32PeakFor, type Fp32Peak } from './fp32-peaks.js';
import { buildGpuSummary, parseGpuBenchArgs, summaryColumns, type StepOutcome } from './gpu-summary.js';
import { hostInfo, printTable, writeJsonReport, writeMarkdownReport } from './report.js';

const args = parseGpuBenchArgs(process.argv.slice(2));
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const require = createRequire(import.meta.url);
const vitestCli = join(require.resolve('vitest/package.json'), '..', 'vitest.mjs');
const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
/** Seconds kept back for writing the summary after the last step. */
const RESERVE_S = 5;

/** On a GPU machine the engine must not quietly fall back to a software adapter. */
const env = { ...process.env, ...(args.quick ? {} : { MLOCK_ADAPTER: 'hardware' }) };
const quick = args.quick ? ['--quick'] : [];

interface Step {
  name: string;
  /** Share of the budget, relative to the other steps. */
  weight: number;
  command: string[];
  /** The step's JSON report, read when it finishes. */
  json: string;
}

const steps: Step[] = [
  {
    name: 'tests',
    weight: args.quick ? 1 : 3,
    // The kernel and engine suites (quick: the matmul kernel tests only, to check the wiring on a software adapter).
    command: [
      vitestCli,
      'run',
      ...(args.quick ? ['test/kernels/matmul.test.ts'] : ['test/kernels', 'test/engine']),
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${join(out, 'tests.json')}`,
    ],
    json: join(out, 'tests.json'),
  },
  {
    name: 'bench:kernels',
    weight: args.quick ? 4 : 3,
    command: ['--import', 'tsx', 'bench/kernels.ts', ...quick, '--json', join(out, 'kernels.json')],
    json: join(out, 'kernels.json'),
  },
  {
    name: 'bench:train',
    weight: args.quick ? 4 : 2,
    command: ['--import', 'tsx', 'bench/train.ts', ...quick, '--json', join(out, 'train.json')],
    json: join(out, 'train.json'),
  },
  {
    name: 'bench:peers',
    weight: 3,
    command: ['--import', 'tsx', 'bench/peers.ts', ...quick, '--device', args.quick ? 'cpu' : 'cuda', '--json', join(out, 'peers.json')],
    json: join(out, 'peers.json'),
  },
];

/** Run one step with its output shown and logged; killed (its whole process group) when it passes `limitS`. */
function runStep(step: Step, limitS: number): Promise<Omit<StepOutcome, 'report'>> {
  const log = createWriteStream(join(out, `${step.name.replace(/[^a-z]+/g, '-')}.log`));
  const start = performance.now();
  console.log(`\n== ${step.name} (time limit ${limitS.toFixed(0)} s): node ${step.command.join(' ')}`);
  const child = spawn(process.execPath, step.command, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const filter = dawnWarningFilter();
  child.stdout.on('data', (d: Buffer) => (process.stdout.write(d), log.write(d)));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const kept = filter.push(chunk);
    process.stderr.write(kept);
    log.write(kept);
  });
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const guard = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), 3000).unref();
  }, limitS * 1000);
  return new Promise((done) => {
    child.on('close', (code) => {
      clearTimeout(guard);
      log.end();
      const seconds = (performance.now() - start) / 1000;
      done({ name: step.name, status: timedOut ? 'timed out' : code === 0 ? 'ok' : 'failed', seconds, exitCode: code });
    });
  });
}

const outcomes: StepOutcome[] = [];
for (let i = 0; i < steps.length; i++) {
  const step = steps[i]!;
  const left = args.budgetS - elapsedS() - RESERVE_S;
  const weights = steps.slice(i).reduce((s, x) => s + x.weight, 0);
  const limitS = (left * step.weight) / weights;
  if (limitS < 5) {
    outcomes.push({ name: step.name, status: 'skipped', seconds: 0, exitCode: null, report: null });
    continue;
  }
  const outcome = await runStep(step, limitS);
  const report = existsSync(step.json) && outcome.status !== 'timed out' ? (JSON.parse(readFileSync(step.json, 'utf8')) as unknown) : null;
  outcomes.push({ ...outcome, report });
}

const kernels = outcomes.find((o) => o.name === 'bench:kernels')?.report as {
  adapter?: { ours?: { description?: string; device?: string } };
} | null;
const peers = outcomes.find((o) => o.name === 'bench:peers')?.report as { adapter?: { description?: string; device?: string } } | null;
const adapterName =
  [kernels?.adapter?.ours, peers?.adapter].map((a) => (a ? `${a.description ?? ''} ${a.device ?? ''}`.trim() : '')).find(Boolean) ?? '';
const peak: Fp32Peak | null = fp32PeakFor(adapterName);
const rows = buildGpuSummary(outcomes, peak, args.quick);

const title = `bench:gpu${args.quick ? ' --quick' : ''} on ${adapterName || 'an unknown adapter'}`;
const notes = [
  `fp32 peak: ${peak ? `${peak.tflops} TFLOP/s (${peak.card}; ${peak.source})` : 'unknown for this adapter'}. Budget ${args.budgetS} s, used ${elapsedS().toFixed(0)} s. Host: ${hostInfo().cpus} CPUs.`,
  'ours vs peer: above 1, ours is faster (kernels: peer time / ours; training and PyTorch rows: ours / peer throughput). % ceiling: of the FMA probe measured on the same adapter; % peak: of the published fp32 peak.',
];
console.log(`\n${title}`);
notes.forEach((n) => console.log(n));
printTable(summaryColumns, rows);
await writeJsonReport(join(out, 'bench-gpu.json'), {
  quick: args.quick,
  budgetS: args.budgetS,
  elapsedS: elapsedS(),
  adapter: adapterName,
  fp32Peak: peak,
  steps: outcomes,
  rows,
});
await writeMarkdownReport(join(out, 'bench-gpu.md'), title, summaryColumns, rows, notes);
if (outcomes.some((o) => o.status !== 'ok')) process.exitCode = 1;
