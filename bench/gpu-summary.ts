/**
 * The pure half of bench:gpu: its arguments, and one summary table built from the JSON reports its steps wrote
 * (vitest's JSON reporter, bench:kernels, bench:train, bench:peers), with each GFLOP/s also as a fraction of the
 * card's published fp32 peak.
 */
import type { Fp32Peak } from './fp32-peaks.js';
// Row types only (erased at run time): these modules are the benchmarks themselves.
import type { KernelRow } from './kernels.js';
import type { PeerRow } from './peers.js';
import type { TrainRow } from './train.js';
import { num, percent, type Column } from './report.js';

export interface GpuBenchArgs {
  quick: boolean;
  /** Folder for the steps' reports and logs, and the summary (bench-gpu.json, bench-gpu.md). */
  out: string;
  /** Wall-clock budget of the whole run, in seconds. */
  budgetS: number;
}

/** 8 minutes for everything on a GPU machine. */
export const DEFAULT_BUDGET_S = 480;
/** The quick form on a 2-core software adapter: its training step alone takes about 2 minutes there under load. */
export const DEFAULT_QUICK_BUDGET_S = 600;

export function parseGpuBenchArgs(argv: readonly string[]): GpuBenchArgs {
  const usage = `usage: npm run bench:gpu -- [--quick] [--out DIR] [--budget SECONDS (default ${DEFAULT_BUDGET_S}, quick ${DEFAULT_QUICK_BUDGET_S})]`;
  const args = { quick: false, out: 'runs/bench-gpu' };
  let budgetS: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (!v || v.startsWith('--')) throw new Error(`${arg} needs a value\n${usage}`);
      return v;
    };
    if (arg === '--quick') args.quick = true;
    else if (arg === '--out') args.out = value();
    else if (arg === '--budget') {
      const v = value();
      const s = Number(v);
      if (!Number.isFinite(s) || s < 30) throw new Error(`--budget ${v}: give the budget in seconds, at least 30\n${usage}`);
      budgetS = s;
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument '${arg}'\n${usage}`);
  }
  return { ...args, budgetS: budgetS ?? (args.quick ? DEFAULT_QUICK_BUDGET_S : DEFAULT_BUDGET_S) };
}

export interface StepOutcome {
  name: string;
  status: 'ok' | 'failed' | 'timed out' | 'skipped';
  seconds: number;
  exitCode: number | null;
  /** The step's JSON report, when it wrote one. */
  report: unknown;
}

export interface SummaryRow {
  section: string;
  work: string;
  ours: string;
  peer: string;
  /** Above 1: ours is faster. */
  versus: number | null;
  gflops: number | null;
  ceilingFraction: number | null;
  peakFraction: number | null;
  status: string;
}

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests?: number;
  numTotalTests: number;
}

const rowsOf = <T>(report: unknown): T[] => (report as { rows?: T[] } | null)?.rows ?? [];
const peakFraction = (gflops: number | null, peak: Fp32Peak | null) => (gflops === null || !peak ? null : gflops / (peak.tflops * 1000));
const unit = (v: number | null, u: string, d = 1) => (v === null ? '-' : `${num(v, d)} ${u}`);

/** One table from every step's report; a step without a report gets one row saying why. */
export function buildGpuSummary(outcomes: readonly StepOutcome[], peak: Fp32Peak | null, quick = false): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const base = { peer: '-', versus: null, gflops: null, ceilingFraction: null, peakFraction: null };
  for (const o of outcomes) {
    if (o.report === null) {
      const why =
        o.status === 'ok'
          ? 'wrote no report'
          : o.status === 'skipped'
            ? 'skipped: time budget spent'
            : `${o.status} after ${o.seconds.toFixed(0)} s (exit ${o.exitCode ?? 'killed'})`;
      rows.push({ ...base, section: o.name, work: '-', ours: '-', status: why });
      continue;
    }
    if (o.name === 'tests') {
      const t = o.report as VitestReport;
      const failed = t.numFailedTests > 0 || o.status !== 'ok';
      rows.push({
        ...base,
        section: o.name,
        work: quick ? 'matmul kernel tests (quick)' : 'kernel + engine suites',
        ours: `${t.numPassedTests} passed, ${t.numFailedTests} failed`,
        status: failed ? 'FAILED' : 'ok',
      });
    } else if (o.name === 'bench:kernels') {
      for (const r of rowsOf<KernelRow>(o.report)) {
        rows.push({
          section: 'kernels vs TF.js',
          work: `${r.name} ${r.shape}`,
          ours: unit(r.oursMs, 'ms', 2),
          peer: unit(r.tfjsMs, 'ms', 2),
          versus: r.speedup,
          gflops: r.gflops,
          ceilingFraction: r.ceilingFraction ?? null,
          peakFraction: peakFraction(r.gflops, peak),
          status: r.error ? `ERROR: ${r.error}` : r.agree === false ? 'MISMATCH' : 'ok',
        });
      }
    } else if (o.name === 'bench:train') {
      for (const r of rowsOf<TrainRow>(o.report)) {
        const error = [
          r.oursError && `ours: ${r.oursError}`,
          r.tfjsError && `TF.js: ${r.tfjsError}`,
          r.logitsAgree === false && 'LOGITS DIFFER',
        ]
          .filter(Boolean)
          .join('; ');
        rows.push({
          ...base,
          section: 'training vs TF.js',
          work: `${r.name}, batch ${r.batch}`,
          ours: unit(r.oursImgPerSec, 'img/s'),
          peer: unit(r.tfjsImgPerSec, 'img/s'),
          versus: r.speedup,
          status: error || 'ok',
        });
      }
    } else if (o.name === 'bench:peers') {
      const peerRows = rowsOf<PeerRow>(o.report);
      for (const r of peerRows) {
        rows.push({
          section: 'vs PyTorch',
          work: r.work,
          ours: unit(r.ours, r.unit),
          peer: r.torchBest ? unit(r.torchBest.value, r.unit) : '-',
          versus: r.ratio,
          gflops: r.oursGflops,
          ceilingFraction: r.ceilingFraction,
          peakFraction: peakFraction(r.oursGflops, peak),
          status: r.oursError ? `ERROR: ${r.oursError}` : r.torchBest ? 'ok' : 'no PyTorch result',
        });
      }
      const largest = peerRows
        .filter((r) => r.work.startsWith('matmul ') && r.ours !== null)
        .sort((a, b) => Number(b.work.slice(7)) - Number(a.work.slice(7)))[0];
      if (largest) {
        const torch = largest.torchBest?.value ?? null;
        rows.push({
          section: 'fp32 peak',
          work: `${largest.work} (largest measured)`,
          ours: unit(largest.ours, 'GFLOP/s'),
          peer: unit(torch, 'GFLOP/s'),
          versus: largest.ratio,
          gflops: largest.ours,
          ceilingFraction: largest.ceilingFraction,
          peakFraction: peakFraction(largest.ours, peak),
          status: peak ? `PyTorch: ${percent(peakFraction(torch, peak))} of ${peak.tflops} TFLOP/s` : 'peak unknown for this adapter',
        });
      }
    }
    if (o.report !== null && o.status !== 'ok' && o.name !== 'tests')
      rows.push({ ...base, section: o.name, work: '-', ours: '-', status: `${o.status} (exit ${o.exitCode})` });
  }
  return rows;
}

export const summaryColumns: Column<SummaryRow>[] = [
  { title: 'section', value: (r) => r.section },
  { title: 'work', value: (r) => r.work },
  { title: 'ours', value: (r) => r.ours, right: true },
  { title: 'peer', value: (r) => r.peer, right: true },
  { title: 'ours vs peer', value: (r) => (r.versus === null ? '-' : `${r.versus.toFixed(2)}x`), right: true },
  { title: 'GFLOP/s', value: (r) => num(r.gflops), right: true },
  { title: '% ceiling', value: (r) => percent(r.ceilingFraction), right: true },
  { title: '% fp32 peak', value: (r) => percent(r.peakFraction), right: true },
  { title: 'status', value: (r) => r.status },
];
