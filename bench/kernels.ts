/**
 * Kernel benchmark: our engine vs TF.js's WebGPU backend on the same adapter, in one process. Times square
 * matmuls, the MLP's layers, the VGG-style net's convolutions (forward and both adjoints) and softmax
 * cross-entropy (loss and its gradient wrt the logits), and checks that both engines computed the same values.
 *
 *   npm run bench:kernels [-- --quick] [-- --json FILE] [-- --markdown FILE]
 *
 * Each timed run enqueues the op and reads its whole output back (`await data()` on both sides), so a run ends
 * only when the GPU has finished it; the table shows the median run. Speedup = TF.js time / our time.
 * '% ceiling' is our GFLOP/s as a fraction of the adapter's pure-FMA ceiling, measured first (fma-ceiling.ts).
 */
import type * as tfjs from '@tensorflow/tfjs';
import * as E from '../engine/node.js';
import { nchwToNhwc, oihwToHwio } from './layouts.js';
import { parseBenchOptions } from './options.js';
import { describeCeiling, fractionOfCeiling, measureFmaCeiling } from './fma-ceiling.js';
import { hostInfo, num, percent, printTable, writeJsonReport, writeMarkdownReport, type Column } from './report.js';
import { oneHotValues, randomLabels, uniformValues } from './synthetic.js';
import { startSideBySide } from './tfjs-peer.js';
import { timeRuns, type RepeatPlan } from './timing.js';

const options = parseBenchOptions(process.argv.slice(2), 'npm run bench:kernels --');
const { tf, adapter } = await startSideBySide();
const host = hostInfo();

/** A case's inputs, uploaded to both engines, and the op under test on each. */
interface Prepared {
  ours(): E.Tensor;
  tfjs(): tfjs.Tensor;
  /** Our output's values in TF.js's layout, for the agreement check (identity when the layouts agree). */
  oursInTfLayout(values: Float32Array): Float32Array;
  dispose(): void;
}

interface KernelCase {
  name: string;
  shape: string;
  /** Floating-point operations of one run, where counting them means something. */
  flops: number | null;
  /** The product, for matmul cases: tuned before timing, and its chosen configuration is reported. */
  matmul?: E.MatmulShapes;
  prepare(): Prepared;
}

export interface KernelRow {
  name: string;
  shape: string;
  oursMs: number | null;
  tfjsMs: number | null;
  speedup: number | null;
  gflops: number | null;
  /** `gflops` as a fraction of the adapter's measured FMA ceiling. */
  ceilingFraction: number | null;
  /** Largest |ours - TF.js| over the output, and the largest |TF.js| it is measured against. */
  maxAbsDiff: number | null;
  maxAbs: number | null;
  agree: boolean | null;
  kernel?: string;
  error?: string;
}

/** Outputs agree when they differ by at most this fraction of the output's largest magnitude. */
const AGREEMENT = 1e-3;

const identity = (v: Float32Array) => v;
const rng = new E.Rng(20240611);

/** The same seeded values as a tensor on each engine; `tfLayout` gives TF.js's shape and order where they differ from ours. */
function upload(shape: number[], tfLayout?: { shape: number[]; from: (v: Float32Array, shape: number[]) => Float32Array }) {
  const values = uniformValues(
    shape.reduce((a, b) => a * b, 1),
    rng,
  );
  const ours = E.tensor(values, shape);
  const tfjs = tfLayout ? tf.tensor(tfLayout.from(values, shape), tfLayout.shape) : tf.tensor(values, shape);
  return { ours, tfjs };
}

function disposeAll(...pairs: { ours: E.Tensor; tfjs: tfjs.Tensor }[]): void {
  for (const p of pairs) {
    p.ours.dispose();
    p.tfjs.dispose();
  }
}

function squareMatmul(n: number): KernelCase {
  return {
    name: 'matmul',
    shape: `${n}x${n} @ ${n}x${n}`,
    flops: 2 * n * n * n,
    matmul: { a: [n, n], b: [n, n] },
    prepare() {
      const a = upload([n, n]);
      const b = upload([n, n]);
      return {
        ours: () => E.matmul(a.ours, b.ours),
        tfjs: () => tf.matMul(a.tfjs, b.tfjs),
        oursInTfLayout: identity,
        dispose: () => disposeAll(a, b),
      };
    },
  };
}

/** One MLP layer as the model runs it: x @ W^T + b (PyTorch's [out, in] weights), with ReLU on hidden layers. */
function mlpLayer(batch: number, inputs: number, units: number, relu: boolean): KernelCase {
  const activation = relu ? 'relu' : 'none';
  return {
    name: relu ? 'linear+relu' : 'linear',
    shape: `${batch}x${inputs} @ (${units}x${inputs})^T + b`,
    flops: 2 * batch * inputs * units,
    matmul: { a: [batch, inputs], b: [units, inputs], transposeB: true },
    prepare() {
      const x = upload([batch, inputs]);
      const w = upload([units, inputs]);
      const b = upload([units]);
      return {
        ours: () => E.matmul(x.ours, w.ours, { transposeB: true, bias: b.ours, activation }),
        tfjs: () => tf.fused.matMul({ a: x.tfjs, b: w.tfjs, transposeB: true, bias: b.tfjs, activation: relu ? 'relu' : 'linear' }),
        oursInTfLayout: identity,
        dispose: () => disposeAll(x, w, b),
      };
    },
  };
}

type ConvPass = 'conv2d forward' | 'conv2d backward-input' | 'conv2d backward-filter';

/** A 3x3, stride 1, padding 1 convolution layer of the VGG-style net, in one of its three passes. */
function convLayer(pass: ConvPass, n: number, c: number, o: number, size: number, note: string): KernelCase {
  const xShape = [n, c, size, size];
  const wShape = [o, c, 3, 3];
  const yShape = [n, o, size, size];
  const nhwc = (s: number[]) => ({ shape: [s[0]!, s[2]!, s[3]!, s[1]!], from: nchwToNhwc });
  const hwio = { shape: [3, 3, c, o], from: oihwToHwio };
  const geometry = { strides: 1, pad: 1, dataFormat: 'NHWC' } as const;
  return {
    name: pass,
    shape: `N=${n}${note} ${c}->${o} ${size}x${size}`,
    flops: 2 * n * size * size * o * c * 9,
    prepare() {
      const x = upload(xShape, nhwc(xShape));
      const w = upload(wShape, hwio);
      const dy = upload(yShape, nhwc(yShape));
      const dispose = () => disposeAll(x, w, dy);
      const fromNchw = (shape: number[]) => (v: Float32Array) => nchwToNhwc(v, shape);
      switch (pass) {
        case 'conv2d forward':
          return {
            ours: () => E.conv2d(x.ours, w.ours, { padding: 1 }),
            tfjs: () => tf.conv2d(x.tfjs as tfjs.Tensor4D, w.tfjs as tfjs.Tensor4D, 1, 1),
            oursInTfLayout: fromNchw(yShape),
            dispose,
          };
        case 'conv2d backward-input':
          return {
            ours: () => E.conv2dBackwardInput(dy.ours, w.ours, xShape, { padding: 1 }),
            // The kernel TF.js's conv2d gradient runs for the input (tf.conv2dTranspose is the same kernel).
            tfjs: () =>
              tf
                .engine()
                .runKernel('Conv2DBackpropInput', { dy: dy.tfjs, filter: w.tfjs }, { ...geometry, inputShape: nhwc(xShape).shape }),
            oursInTfLayout: fromNchw(xShape),
            dispose,
          };
        case 'conv2d backward-filter':
          return {
            ours: () => E.conv2dBackwardFilter(x.ours, dy.ours, wShape, { padding: 1 }),
            // The kernel TF.js's conv2d gradient runs for the filter (not exported as a public op).
            tfjs: () => tf.engine().runKernel('Conv2DBackpropFilter', { x: x.tfjs, dy: dy.tfjs }, { ...geometry, filterShape: hwio.shape }),
            oursInTfLayout: (v) => oihwToHwio(v, wShape),
            dispose,
          };
      }
    },
  };
}

/** Mean softmax cross-entropy over a batch of logits and its gradient wrt the logits (what is read back). */
function softmaxCrossEntropy(batch: number, classes: number): KernelCase {
  return {
    name: 'softmax+xent fwd+bwd',
    shape: `${batch}x${classes}`,
    flops: null,
    prepare() {
      const logits = upload([batch, classes]);
      const labels = randomLabels(batch, classes, rng);
      const oursLabels = E.tensor(labels, [batch], 'i32');
      const oneHot = tf.tensor2d(oneHotValues(labels, classes), [batch, classes]);
      const lossGrad = tf.grad((l: tfjs.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, l));
      return {
        ours: () => E.scope(() => E.grad((l) => E.crossEntropy(l, oursLabels))(logits.ours).grads[0]!),
        tfjs: () => lossGrad(logits.tfjs),
        oursInTfLayout: identity,
        dispose: () => {
          disposeAll(logits);
          oursLabels.dispose();
          oneHot.dispose();
        },
      };
    },
  };
}

function cases(quick: boolean): KernelCase[] {
  const fallback = adapter.ours.isFallbackAdapter;
  const squares = quick ? [128, 256, 512] : [128, 256, 512, 1024, ...(fallback ? [] : [2048, 4096])];
  const convBatch = quick ? 8 : 32;
  const convNote = quick ? ' (quick; full run: 32)' : '';
  const convLayers: [number, number, number][] = [
    [3, 32, 32],
    [32, 32, 32],
    [32, 64, 16],
    [64, 128, 8],
  ];
  const passes: ConvPass[] = ['conv2d forward', 'conv2d backward-input', 'conv2d backward-filter'];
  return [
    ...squares.map(squareMatmul),
    mlpLayer(128, 784, 256, true),
    mlpLayer(128, 256, 256, true),
    mlpLayer(128, 256, 10, false),
    ...passes.flatMap((pass) => convLayers.map(([c, o, size]) => convLayer(pass, convBatch, c, o, size, convNote))),
    softmaxCrossEntropy(128, 10),
    softmaxCrossEntropy(1024, 1000),
  ];
}

/** The autotuner measures each matmul bucket once per adapter and stores the choice (.cache/). */
async function tuneMatmuls(list: readonly KernelCase[], quick: boolean): Promise<void> {
  const products = list.flatMap((c) => (c.matmul ? [c.matmul] : []));
  if (quick) {
    // Measuring a bucket takes from seconds to minutes on a software adapter: quick runs use stored choices only.
    await E.loadMatmulTuning();
    console.log('matmul tuning: stored choices only (--quick); a run without --quick measures the missing buckets');
    return;
  }
  const start = performance.now();
  const results = await E.tuneMatmul(products, { withGradients: false });
  const measured = results.filter((r) => r.source === 'measured').length;
  console.log(
    `matmul tuning: ${results.length} products, ${measured} buckets measured now, in ${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
}

function maxAbsDiff(ours: Float32Array, ref: Float32Array): { diff: number; scale: number } {
  if (ours.length !== ref.length) throw new Error(`outputs differ in size: ours ${ours.length} values, TF.js ${ref.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i]! - ref[i]!);
    diff = d > diff || Number.isNaN(d) ? d : diff;
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return { diff, scale };
}

async function runCase(c: KernelCase, plan: RepeatPlan): Promise<KernelRow> {
  const row: KernelRow = {
    name: c.name,
    shape: c.shape,
    oursMs: null,
    tfjsMs: null,
    speedup: null,
    gflops: null,
    ceilingFraction: null,
    maxAbsDiff: null,
    maxAbs: null,
    agree: null,
  };
  if (c.matmul) {
    const { config, source } = E.matmulConfigFor(c.matmul);
    row.kernel = `${config} (${source})`;
  }
  let p: Prepared | null = null;
  try {
    p = c.prepare();
    const prepared = p;
    // The first run of each engine compiles its pipelines; its output is the one checked for agreement.
    const o = prepared.ours();
    const oursValues = prepared.oursInTfLayout((await o.data()) as Float32Array);
    o.dispose();
    const t = prepared.tfjs();
    const tfValues = (await t.data()) as Float32Array;
    t.dispose();
    const { diff, scale } = maxAbsDiff(oursValues, tfValues);
    Object.assign(row, { maxAbsDiff: diff, maxAbs: scale, agree: diff <= AGREEMENT * scale });

    const ours = await timeRuns(async () => {
      const out = prepared.ours();
      await out.data();
      out.dispose();
    }, plan);
    const tfjs = await timeRuns(async () => {
      const out = prepared.tfjs();
      await out.data();
      out.dispose();
    }, plan);
    row.oursMs = ours.medianMs;
    row.tfjsMs = tfjs.medianMs;
    row.speedup = tfjs.medianMs / ours.medianMs;
    row.gflops = c.flops === null ? null : c.flops / (ours.medianMs * 1e6);
    row.ceilingFraction = fractionOfCeiling(row.gflops, ceiling.gflops);
  } catch (err) {
    row.error = (err as Error).message.split('\n')[0];
  } finally {
    p?.dispose();
  }
  return row;
}

const plan: RepeatPlan = options.quick
  ? { warmup: 0, minRepeats: 1, maxRepeats: 3, budgetMs: 300 }
  : { warmup: 1, minRepeats: 3, maxRepeats: 9, budgetMs: 5000 };
const list = cases(options.quick);
await tuneMatmuls(list, options.quick);
const ceiling = await measureFmaCeiling({ quick: options.quick });
console.log(`FMA ceiling of this adapter: ${describeCeiling(ceiling)}`);
if (options.quick) console.log('quick: square matmuls up to 512 only, convolutions at batch 8, fewer repeats');

const rows: KernelRow[] = [];
for (const c of list) {
  const row = await runCase(c, plan);
  rows.push(row);
  const status = row.error ? `FAILED: ${row.error}` : `ours ${num(row.oursMs)} ms, TF.js ${num(row.tfjsMs)} ms`;
  console.log(`  ${c.name} ${c.shape}: ${status}`);
}

const columns: Column<KernelRow>[] = [
  { title: 'name', value: (r) => r.name },
  { title: 'shape', value: (r) => r.shape },
  { title: 'ours ms', value: (r) => num(r.oursMs, 2), right: true },
  { title: 'tfjs ms', value: (r) => num(r.tfjsMs, 2), right: true },
  { title: 'speedup', value: (r) => (r.speedup === null ? '-' : `${r.speedup.toFixed(2)}x`), right: true },
  { title: 'GFLOP/s ours', value: (r) => num(r.gflops, 2), right: true },
  { title: '% ceiling', value: (r) => percent(r.ceilingFraction), right: true },
  { title: 'max|diff|', value: (r) => (r.maxAbsDiff === null ? '-' : r.maxAbsDiff.toExponential(1)), right: true },
  { title: 'check', value: (r) => (r.error ? `ERROR: ${r.error}` : r.agree ? 'ok' : `MISMATCH (max|tfjs| ${r.maxAbs?.toExponential(1)})`) },
  { title: 'our matmul kernel', value: (r) => r.kernel ?? '' },
];
console.log(
  `\nspeedup = TF.js time / our time (above 1: ours is faster); outputs agree when max|diff| <= ${AGREEMENT} x max|TF.js output|`,
);
console.log(`% ceiling = our GFLOP/s / the adapter's measured FMA ceiling (${num(ceiling.gflops)} GFLOP/s)`);
console.log(`host: ${host.cpus} CPUs, load average ${host.loadAverage.map((l) => l.toFixed(1)).join(' ')} at the start`);
printTable(columns, rows);

if (options.json) await writeJsonReport(options.json, { adapter, host, quick: options.quick, fmaCeiling: ceiling, rows });
if (options.markdown)
  await writeMarkdownReport(
    options.markdown,
    `bench:kernels on ${adapter.ours.description}, FMA ceiling ${num(ceiling.gflops)} GFLOP/s`,
    columns,
    rows,
  );
if (rows.some((r) => r.error || r.agree === false)) {
  console.error('\nsome cases failed or disagree with TF.js: their timings compare different results');
  process.exitCode = 1;
}
