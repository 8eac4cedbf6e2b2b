/**
 * Training benchmark: images per second of a full training step (forward, softmax cross-entropy, backward,
 * optimizer update) for our engine vs TF.js's WebGPU backend, same adapter, same process, same network (the
 * TF.js model is built from ours, with our weights), same batch and optimizer, on seeded synthetic data:
 *
 * - the MLP 784-256-256-256-10 with dropout 0.2, batch 128, SGD with momentum 0.9 (MNIST-shaped inputs);
 * - the VGG-style net, width 32, batch 64, Adam (CIFAR-shaped inputs).
 *
 *   npm run bench:train [-- --quick] [-- --json FILE] [-- --markdown FILE]
 *
 * After warm-up steps, N steps are enqueued back to back and the clock stops when the last parameter update has
 * been read back; images/s = N * batch / that time. Speedup = our images/s / TF.js's.
 */
import type * as tfjs from '@tensorflow/tfjs';
import * as E from '../engine/node.js';
import { nchwToNhwc } from './layouts.js';
import {
  mlpWorkload,
  syntheticBatches,
  timeOurTraining,
  tuneModelMatmuls,
  vggWorkload,
  type OptimizerSpec,
  type SyntheticBatch,
  type TrainingWorkload,
} from './networks.js';
import { parseBenchOptions } from './options.js';
import { hostInfo, num, printTable, writeJsonReport, writeMarkdownReport, type Column } from './report.js';
import { oneHotValues } from './synthetic.js';
import { timeSteps } from './timing.js';
import { startSideBySide } from './tfjs-peer.js';
import { tfjsTwin } from './tfjs-twin.js';

const options = parseBenchOptions(process.argv.slice(2), 'npm run bench:train --');
const { tf, adapter } = await startSideBySide();
const host = hostInfo();

interface TrainCase extends TrainingWorkload {
  warmupSteps: number;
  timedSteps: number;
}

export interface TrainRow {
  name: string;
  batch: number;
  oursImgPerSec: number | null;
  tfjsImgPerSec: number | null;
  speedup: number | null;
  /** Eval-mode logits of both engines on the first batch, with identical weights: largest |difference|. */
  logitsMaxAbsDiff: number | null;
  logitsAgree: boolean | null;
  steps: number;
  oursError?: string;
  tfjsError?: string;
}

/** Logits agree when they differ by at most this fraction of their largest magnitude. */
const AGREEMENT = 1e-3;

function cases(quick: boolean): TrainCase[] {
  return [
    { ...mlpWorkload(128), warmupSteps: quick ? 1 : 5, timedSteps: quick ? 3 : 30 },
    // A VGG step at batch 64 takes minutes on a software adapter (TF.js: about 20 s even at batch 4).
    { ...vggWorkload(32, quick ? 4 : 64), warmupSteps: 1, timedSteps: quick ? 1 : 10 },
  ];
}

function tfjsOptimizer(spec: OptimizerSpec): tfjs.Optimizer {
  return spec.kind === 'sgd' ? tf.train.momentum(spec.lr, spec.momentum) : tf.train.adam(spec.lr);
}

/** Both engines' copies of the same seeded batches (NCHW for us; TF.js gets the same values NHWC, one-hot labels). */
function uploadTfjs(c: TrainCase, batches: readonly SyntheticBatch[]) {
  const [ch, h, w] = c.inputShape;
  const shape = [c.batch, ch, h, w];
  return batches.map((b) => ({
    x: tf.tensor4d(nchwToNhwc(b.x, shape), [c.batch, h, w, ch]),
    y: tf.tensor2d(oneHotValues(b.labels, c.classes), [c.batch, c.classes]),
  }));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    diff = d > diff || Number.isNaN(d) ? d : diff;
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

async function runCase(c: TrainCase): Promise<TrainRow> {
  const row: TrainRow = {
    name: c.name,
    batch: c.batch,
    oursImgPerSec: null,
    tfjsImgPerSec: null,
    speedup: null,
    logitsMaxAbsDiff: null,
    logitsAgree: null,
    steps: c.timedSteps,
  };
  const batches = syntheticBatches(c, new E.Rng(7));
  const tfBatches = uploadTfjs(c, batches);
  const model = c.model();
  let twin: tfjs.Sequential | null = null;
  try {
    twin = await tfjsTwin(tf, model, c.inputShape);
    const evalTwin = twin;
    // Same weights, eval mode (no dropout, running statistics): both must produce the same logits.
    try {
      model.eval();
      const x = E.tensor(batches[0]!.x, [c.batch, ...c.inputShape]);
      const ours = E.noGrad(() => E.scope(() => model.forward(x)));
      const oursLogits = (await ours.data()) as Float32Array;
      ours.dispose();
      x.dispose();
      const ref = tf.tidy(() => evalTwin.apply(tfBatches[0]!.x, { training: false }) as tfjs.Tensor);
      const { diff, scale } = maxAbsDiff(oursLogits, (await ref.data()) as Float32Array);
      ref.dispose();
      Object.assign(row, { logitsMaxAbsDiff: diff, logitsAgree: diff <= AGREEMENT * scale });
    } finally {
      model.train();
    }
  } catch (err) {
    row.oursError = (err as Error).message.split('\n')[0];
  }

  if (!row.oursError) {
    try {
      await tuneModelMatmuls(model, c.batch, options.quick);
      row.oursImgPerSec = await timeOurTraining(model, c, batches, c.warmupSteps, c.timedSteps);
    } catch (err) {
      row.oursError = (err as Error).message.split('\n')[0];
    }
  }

  try {
    const net = twin ?? (await tfjsTwin(tf, c.model(), c.inputShape));
    const opt = tfjsOptimizer(c.optimizer);
    const vars = net.trainableWeights.map((w) => w.read() as tfjs.Variable);
    const last = vars.at(-1)!;
    const seconds = await timeSteps(
      (i) => {
        const { x, y } = tfBatches[i % tfBatches.length]!;
        opt.minimize(
          () => tf.losses.softmaxCrossEntropy<tfjs.Tensor, tfjs.Scalar>(y, net.apply(x, { training: true }) as tfjs.Tensor),
          false,
          vars,
        );
      },
      async () => void (await last.data()),
      c.warmupSteps,
      c.timedSteps,
    );
    row.tfjsImgPerSec = (c.timedSteps * c.batch) / seconds;
    opt.dispose();
    net.dispose();
  } catch (err) {
    row.tfjsError = (err as Error).message.split('\n')[0];
  }

  model.dispose();
  for (const b of tfBatches) tf.dispose([b.x, b.y]);
  if (row.oursImgPerSec !== null && row.tfjsImgPerSec !== null) row.speedup = row.oursImgPerSec / row.tfjsImgPerSec;
  return row;
}

const list = cases(options.quick);
if (options.quick) console.log('quick: fewer steps, VGG-style net at batch 4 (full run: 64), matmul tuning from stored choices only');
const rows: TrainRow[] = [];
for (const c of list) {
  console.log(`  ${c.name}, batch ${c.batch}: ${c.warmupSteps} warm-up + ${c.timedSteps} timed steps per engine`);
  const row = await runCase(c);
  rows.push(row);
  const describe = (v: number | null, err?: string) => (err ? `FAILED: ${err}` : `${num(v)} img/s`);
  console.log(`    ours ${describe(row.oursImgPerSec, row.oursError)}; TF.js ${describe(row.tfjsImgPerSec, row.tfjsError)}`);
}

const columns: Column<TrainRow>[] = [
  { title: 'name', value: (r) => r.name },
  { title: 'batch', value: (r) => String(r.batch), right: true },
  { title: 'ours img/s', value: (r) => num(r.oursImgPerSec), right: true },
  { title: 'tfjs img/s', value: (r) => num(r.tfjsImgPerSec), right: true },
  { title: 'speedup', value: (r) => (r.speedup === null ? '-' : `${r.speedup.toFixed(2)}x`), right: true },
  { title: 'logits max|diff|', value: (r) => (r.logitsMaxAbsDiff === null ? '-' : r.logitsMaxAbsDiff.toExponential(1)), right: true },
  {
    title: 'check',
    value: (r) =>
      [r.oursError && `ours: ${r.oursError}`, r.tfjsError && `TF.js: ${r.tfjsError}`, r.logitsAgree === false && 'LOGITS DIFFER']
        .filter(Boolean)
        .join('; ') || 'ok',
  },
];
console.log(
  `\nspeedup = our images/s / TF.js images/s (above 1: ours is faster); host: ${host.cpus} CPUs, load average ${host.loadAverage.map((l) => l.toFixed(1)).join(' ')} at the start`,
);
printTable(columns, rows);

if (options.json) await writeJsonReport(options.json, { adapter, host, quick: options.quick, rows });
if (options.markdown) await writeMarkdownReport(options.markdown, `bench:train on ${adapter.ours.description}`, columns, rows);
if (rows.some((r) => r.oursError || r.tfjsError || r.logitsAgree === false)) {
  console.error('\nsome cases failed, or the two engines disagree on the same weights');
  process.exitCode = 1;
}
