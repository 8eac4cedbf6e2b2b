/**
 * The pure parts of the benchmarks: argument parsing, the table formatting (ratios, fractions of a ceiling or a
 * peak, Markdown), the published-peak lookup, the PyTorch peer's environment and best-of choice, the GEMM flop
 * count of a training step, and the bench:gpu summary built from step reports. No timing here.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/setup.js';
import { mlp, vgg } from '../../engine/nn/index.js';
import { fractionOfCeiling } from '../../bench/fma-ceiling.js';
import { fp32PeakFor } from '../../bench/fp32-peaks.js';
import { buildGpuSummary, DEFAULT_BUDGET_S, DEFAULT_QUICK_BUDGET_S, parseGpuBenchArgs, type StepOutcome } from '../../bench/gpu-summary.js';
import { parseBenchOptions } from '../../bench/options.js';
import { markdownTable, percent, ratio, type Column } from '../../bench/report.js';
import { bestOf, peerEnvironment } from '../../bench/torch-peer.js';
import { torchTwin } from '../../bench/torch-twin.js';

useEngine();

describe('benchmark arguments', () => {
  const device = [{ flag: '--device', values: ['cpu', 'cuda'] as const }];
  it('parses the shared flags and a declared choice, defaulting to its first value', () => {
    expect(parseBenchOptions([], 'b', device)).toEqual({ quick: false, json: null, markdown: null, choices: { device: 'cpu' } });
    expect(parseBenchOptions(['--quick', '--json', 'a.json', '--markdown', 'a.md', '--device', 'cuda'], 'b', device)).toEqual({
      quick: true,
      json: 'a.json',
      markdown: 'a.md',
      choices: { device: 'cuda' },
    });
  });
  it('refuses unknown flags, missing values and values outside a choice', () => {
    expect(() => parseBenchOptions(['--fast'], 'b')).toThrow(/unknown argument '--fast'/);
    expect(() => parseBenchOptions(['--json'], 'b')).toThrow(/--json needs a file name/);
    expect(() => parseBenchOptions(['--json', '--quick'], 'b')).toThrow(/--json needs a file name/);
    expect(() => parseBenchOptions(['--device', 'tpu'], 'b', device)).toThrow(/--device tpu is not supported; use one of cpu, cuda/);
    expect(() => parseBenchOptions(['--device', 'cpu'], 'b')).toThrow(/unknown argument '--device'/);
  });
  it('bench:gpu takes --quick, --out and a budget in seconds', () => {
    expect(parseGpuBenchArgs([])).toEqual({ quick: false, out: 'runs/bench-gpu', budgetS: DEFAULT_BUDGET_S });
    expect(DEFAULT_BUDGET_S).toBeLessThanOrEqual(480);
    expect(parseGpuBenchArgs(['--quick', '--out', 'x', '--budget', '300'])).toEqual({ quick: true, out: 'x', budgetS: 300 });
    expect(parseGpuBenchArgs(['--quick']).budgetS).toBe(DEFAULT_QUICK_BUDGET_S);
    expect(() => parseGpuBenchArgs(['--budget', 'soon'])).toThrow(/--budget soon: give the budget in seconds/);
    expect(() => parseGpuBenchArgs(['--budget', '5'])).toThrow(/at least 30/);
    expect(() => parseGpuBenchArgs(['--out'])).toThrow(/--out needs a value/);
  });
});

describe('table formatting', () => {
  it('writes ratios and percentages, with - where there is no number', () => {
    expect(ratio(0.0612)).toBe('0.061x');
    expect(ratio(2.5)).toBe('2.50x');
    expect(ratio(null)).toBe('-');
    expect(ratio(Number.NaN)).toBe('-');
    expect(percent(0.434)).toBe('43%');
    expect(percent(undefined)).toBe('-');
  });
  it('divides by a ceiling only when both numbers are known and the ceiling is positive', () => {
    expect(fractionOfCeiling(55, 110)).toBe(0.5);
    expect(fractionOfCeiling(null, 110)).toBeNull();
    expect(fractionOfCeiling(10, 0)).toBeNull();
    expect(fractionOfCeiling(10, null)).toBeNull();
  });
  it('renders Markdown with right-aligned number columns and escaped pipes', () => {
    const columns: Column<{ a: string; b: number }>[] = [
      { title: 'name', value: (r) => r.a },
      { title: 'x', value: (r) => r.b.toFixed(1), right: true },
    ];
    expect(markdownTable(columns, [{ a: 'p|q', b: 2 }])).toBe('| name | x |\n| --- | ---: |\n| p\\|q | 2.0 |');
  });
});

describe('published fp32 peaks', () => {
  it('finds the card from the adapter description, the specific variants first', () => {
    expect(fp32PeakFor('NVIDIA H100 80GB HBM3')?.tflops).toBe(67);
    expect(fp32PeakFor('NVIDIA H100 PCIe')?.tflops).toBe(51);
    expect(fp32PeakFor('NVIDIA H200')?.tflops).toBe(67);
    expect(fp32PeakFor('NVIDIA A100-SXM4-80GB')?.tflops).toBe(19.5);
    expect(fp32PeakFor('NVIDIA L4')?.tflops).toBe(30.3);
    expect(fp32PeakFor('NVIDIA L40S')?.tflops).toBe(91.6);
  });
  it('says unknown (null) for anything else, including the software adapters', () => {
    expect(fp32PeakFor('SwiftShader driver 5.0.0')).toBeNull();
    expect(fp32PeakFor('OpenGL ES 3.2 Mesa 22.3.6 llvmpipe')).toBeNull();
    expect(fp32PeakFor('NVIDIA L4000 imaginary')).toBeNull();
  });
});

describe('PyTorch peer', () => {
  it('drops the OpenBLAS pinning variables and sets every threading library, leaving the caller environment alone', () => {
    const base = { OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '1', PATH: '/bin' };
    const env = peerEnvironment(2, base);
    expect(env).toEqual({ PATH: '/bin', OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2', MKL_NUM_THREADS: '2' });
    expect(base.OPENBLAS_CORETYPE).toBe('Haswell');
  });
  it('keeps the faster thread count per row, skipping failures', () => {
    expect(
      bestOf([
        { threads: 1, value: 5 },
        { threads: 2, value: 9 },
      ])?.threads,
    ).toBe(2);
    expect(
      bestOf([
        { threads: 1, value: 5 },
        { threads: 2, value: null },
      ])?.threads,
    ).toBe(1);
    expect(bestOf([{ threads: 1, value: null }])).toBeNull();
  });
  it('describes the MLP layer by layer and counts its GEMM work: 3 products x 2 flops per multiply-add', () => {
    const model = mlp({ inputShape: [1, 28, 28], numClasses: 10, dropout: 0.2, seed: 1 });
    const twin = torchTwin(model, [1, 28, 28]);
    model.dispose();
    expect(twin.layers.map((l) => l.type)).toEqual([
      'flatten',
      'linear',
      'relu',
      'dropout',
      'linear',
      'relu',
      'dropout',
      'linear',
      'relu',
      'dropout',
      'linear',
    ]);
    expect(twin.layers[1]).toEqual({ type: 'linear', in: 784, out: 256, bias: true });
    expect(twin.gemmFlopsPerImage).toBe(6 * (784 * 256 + 2 * 256 * 256 + 256 * 10));
  });
  it('follows the VGG-style net through its poolings (width 8 on 3x32x32)', () => {
    const model = vgg({ inputShape: [3, 32, 32], numClasses: 10, width: 8, seed: 1 });
    const twin = torchTwin(model, [3, 32, 32]);
    model.dispose();
    // [8, 8, M, 16, 16, M, 32, 32, M, 64, M]: 3x3 convolutions at 32, 32, 16, 16, 8, 8, 4 pixels a side, then 64*2*2 -> 10.
    const convs: [number, number, number][] = [
      [3, 8, 32],
      [8, 8, 32],
      [8, 16, 16],
      [16, 16, 16],
      [16, 32, 8],
      [32, 32, 8],
      [32, 64, 4],
    ];
    const macs = convs.reduce((s, [c, o, side]) => s + side * side * c * o * 9, 0) + 256 * 10;
    expect(twin.gemmFlopsPerImage).toBe(6 * macs);
    expect(twin.layers.find((l) => l.type === 'conv2d')).toEqual({
      type: 'conv2d',
      in: 3,
      out: 8,
      kernel: [3, 3],
      stride: [1, 1],
      padding: [1, 1],
      bias: false,
    });
  });
});

describe('bench:gpu summary', () => {
  const peak = fp32PeakFor('NVIDIA H100 80GB HBM3');
  const outcomes: StepOutcome[] = [
    { name: 'tests', status: 'ok', seconds: 60, exitCode: 0, report: { numPassedTests: 40, numFailedTests: 0, numTotalTests: 40 } },
    { name: 'bench:kernels', status: 'timed out', seconds: 120, exitCode: null, report: null },
    { name: 'bench:train', status: 'skipped', seconds: 0, exitCode: null, report: null },
    {
      name: 'bench:peers',
      status: 'ok',
      seconds: 90,
      exitCode: 0,
      report: {
        rows: [
          {
            work: 'matmul 1024',
            unit: 'GFLOP/s',
            ours: 6700,
            oursGflops: 6700,
            ceilingFraction: 0.2,
            torchBest: { threads: 1, value: 13400 },
            ratio: 0.5,
          },
          {
            work: 'matmul 4096',
            unit: 'GFLOP/s',
            ours: 33500,
            oursGflops: 33500,
            ceilingFraction: 0.6,
            torchBest: { threads: 1, value: 40200 },
            ratio: 33500 / 40200,
          },
        ],
      },
    },
  ];
  const rows = buildGpuSummary(outcomes, peak);
  it('says why a step has no numbers', () => {
    expect(rows.find((r) => r.section === 'bench:kernels')?.status).toBe('timed out after 120 s (exit killed)');
    expect(rows.find((r) => r.section === 'bench:train')?.status).toBe('skipped: time budget spent');
    expect(rows.find((r) => r.section === 'tests')?.ours).toBe('40 passed, 0 failed');
  });
  it('puts the largest matmul against the published peak, for ours and PyTorch', () => {
    const p = rows.find((r) => r.section === 'fp32 peak')!;
    expect(p.work).toBe('matmul 4096 (largest measured)');
    expect(p.peakFraction).toBeCloseTo(0.5, 12);
    expect(p.status).toBe('PyTorch: 60% of 67 TFLOP/s');
    expect(rows.find((r) => r.work === 'matmul 1024')?.peakFraction).toBeCloseTo(0.1, 12);
  });
});
