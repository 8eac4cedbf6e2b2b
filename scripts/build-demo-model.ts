/**
 * `npm run build:demo-model`: trains the demo page's default model and writes its assets.
 *
 * A small locked MLP (M-LOCK, strategy uniform, keyed token from the passphrase 'demo passphrase') is trained
 * the way `npm start` trains its demo (20 epochs of 20,000 seeded MNIST images for the unlocked baseline, then
 * 30 epochs of locked training from its weights with near-miss decoys, the token at its key-derived quiet
 * place: about 4 minutes on the software adapter), with
 * this project's engine, in Node. Then
 *   web/assets/model.safetensors   the sealed model (weights encrypted with the passphrase, public token
 *                                  geometry; never the key), which the page opens with the passphrase
 *   web/assets/mnist-samples.bin   24 seeded MNIST test images: 24 label bytes, then 24 x 28x28 pixel bytes
 * are written; both are committed so the page works from a clean clone. The run folder (report, curves) is
 * left in a temporary folder, printed at the end.
 */
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// run.ts first: it loads the engine's Node entry, which registers the WebGPU globals the data modules read.
import { run, sampleSubset } from '../mlock/run.js';
import { loadDataset } from '../engine/data/node/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = join(ROOT, 'web/assets');
const PASSPHRASE = 'demo passphrase';
const SAMPLE_COUNT = 24;
const SEED = 0;
// As the demo: the lock forms in a few epochs, the near-miss boundary needs the rest (docs/threat-model.md).
const EPOCHS = 20;
const LOCK_EPOCHS = 30;

const out = await mkdtemp(join(tmpdir(), 'mlock-demo-model-'));
const report = await run({
  dataset: 'mnist',
  strategy: { name: 'uniform' },
  token: { key: PASSPHRASE },
  epochs: EPOCHS,
  lockEpochs: LOCK_EPOCHS,
  trainSubset: 20_000,
  testSubset: 2_000,
  forgedKeys: 200,
  forgedSamples: 200,
  auditPerDistance: 50,
  baseline: true,
  warmStart: true,
  seed: SEED,
  out,
  progress: Boolean(process.stdout.isTTY),
});
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`);
console.log(
  `test accuracy: with the token ${pct(report.authorizedAccuracy)}, without ${pct(report.unauthorizedAccuracy)}, ` +
    `baseline ${pct(report.baselineAccuracy)}, forgeries mean ${pct(report.forgedAccuracy)} (worst ${pct(report.forgedMaxAccuracy)}); ${report.seconds.toFixed(0)} s`,
);

await mkdir(ASSETS, { recursive: true });
await copyFile(join(out, 'model.safetensors'), join(ASSETS, 'model.safetensors'));

// Images the model was not trained on, seeded so that rebuilding picks the same ones.
const test = sampleSubset(await loadDataset('mnist', 'test'), SAMPLE_COUNT, SEED + 99);
const pixels = test.h * test.w;
const samples = new Uint8Array(test.n * (1 + pixels));
for (let i = 0; i < test.n; i++) samples[i] = test.labels[i]!;
samples.set(test.images.subarray(0, test.n * pixels), test.n);
await writeFile(join(ASSETS, 'mnist-samples.bin'), samples);
console.log(`wrote web/assets/model.safetensors and web/assets/mnist-samples.bin (${test.n} test images); run folder: ${out}`);
