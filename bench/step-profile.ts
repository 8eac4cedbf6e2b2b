/**
 * Where one training step's time goes, for bench/networks.ts's MLP (SGD momentum) and VGG width 8 (Adam):
 *
 *   npm run bench:step [-- --quick] [-- --json FILE] [-- --markdown FILE]
 *
 * Per step: dispatches, submits, host writes (the uniforms of a batch travel in one write at its submit, which is
 * not counted here), and per kernel kind (op name and phase: forward, backward, optimizer) the dispatches, the
 * bytes of the buffers they bind (pool-bucket sizes: an upper bound on the memory a pass touches) and, on an
 * adapter that runs the work inside the submit (llvmpipe through OpenGL ES), the milliseconds each kind takes
 * when every dispatch is submitted on its own. The step is also timed split into its phases (each ended by a
 * fence) and whole (enqueued back to back, like bench:peers); img/s comes from the whole step.
 */
import * as E from '../engine/node.js';
import type { Sequential } from '../engine/nn/index.js';
import { mlpWorkload, ourOptimizer, syntheticBatches, vggWorkload, type TrainingWorkload } from './networks.js';
import { parseBenchOptions } from './options.js';
import { hostInfo, num, printTable, writeJsonReport, writeMarkdownReport, type Column } from './report.js';

const options = parseBenchOptions(process.argv.slice(2), 'npm run bench:step --');
await E.initEngine();
await E.loadMatmulTuning();
const rt = E.runtime();
const adapter = rt.info;
const host = hostInfo();
// On Dawn's OpenGL ES backend a submit returns once the work has run, so timing the submit times the kernel.
const timesKernels = adapter.backend === 'opengles';

type Phase = 'forward' | 'backward' | 'optimizer';
const PHASES: readonly Phase[] = ['forward', 'backward', 'optimizer'];

interface KindRow {
  network: string;
  phase: Phase;
  op: string;
  count: number;
  megabytes: number;
  /** Per step, with every dispatch submitted alone (null where the submit does not run the work). */
  ms: number | null;
}

interface StepRow {
  network: string;
  dispatches: number;
  submits: number;
  hostWrites: number;
  phaseMs: Record<Phase, number>;
  stepMs: number;
  imagesPerSecond: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function fence(): Promise<void> {
  rt.flush();
  await rt.device.queue.onSubmittedWorkDone();
}

async function profile(w: TrainingWorkload, label: string, repeats: number): Promise<{ step: StepRow; kinds: KindRow[] }> {
  const model: Sequential = w.model();
  const shape = [w.batch, ...w.inputShape];
  const batches = syntheticBatches(w, new E.Rng(7)).map((b) => ({ x: E.tensor(b.x, shape), y: E.tensor(b.labels, [w.batch], 'i32') }));
  const opt = ourOptimizer(w.optimizer, model.parameters());
  let phase: Phase = 'forward';
  /** One step; with `split`, a fence ends each phase. Returns each phase's milliseconds and the whole step's. */
  const step = async (i: number, split: boolean): Promise<number[]> => {
    const marks = [performance.now()];
    await E.scope(async () => {
      const { x, y } = batches[i % batches.length]!;
      phase = 'forward';
      const loss = E.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      if (split) await fence();
      marks.push(performance.now());
      phase = 'backward';
      loss.backward();
      if (split) await fence();
      marks.push(performance.now());
      phase = 'optimizer';
      opt.step();
    }, 'profiled step');
    await fence();
    marks.push(performance.now());
    return [...marks.slice(1).map((t, k) => t - marks[k]!), marks.at(-1)! - marks[0]!];
  };
  try {
    for (let i = 0; i < 3; i++) await step(i, true);
    // Counts of one step.
    const kinds = new Map<string, KindRow>();
    let hostWrites = 0;
    const kindOf = (op: string) => {
      const key = `${phase}:${op}`;
      let row = kinds.get(key);
      if (!row) kinds.set(key, (row = { network: label, phase, op, count: 0, megabytes: 0, ms: timesKernels ? 0 : null }));
      return row;
    };
    rt.observer = (work: E.RecordedWork) => {
      if (work.kind === 'write') hostWrites++;
      const row = kindOf(work.op);
      row.count++;
      row.megabytes += work.bytes / 1e6;
    };
    const [d0, s0] = [rt.dispatchCount, rt.submitCount];
    await step(0, false);
    rt.observer = null;
    const dispatches = rt.dispatchCount - d0;
    // The final fence's flush is one of them; a step reads nothing back, so it has no others of its own.
    const submits = rt.submitCount - s0;
    // Per-kind times: every dispatch submitted alone, timed around its submit.
    if (timesKernels) {
      rt.observer = (work: E.RecordedWork) => {
        if (work.kind !== 'dispatch') return;
        const start = performance.now();
        rt.flush();
        kinds.get(`${phase}:${work.op}`)!.ms! += (performance.now() - start) / repeats;
      };
      for (let i = 0; i < repeats; i++) await step(i, false);
      rt.observer = null;
    }
    const split: number[][] = [];
    for (let i = 0; i < repeats; i++) split.push(await step(i, true));
    const whole: number[] = [];
    for (let i = 0; i < repeats; i++) whole.push((await step(i, false))[3]!);
    const stepMs = median(whole);
    const phaseMs = Object.fromEntries(PHASES.map((p, k) => [p, median(split.map((s) => s[k]!))])) as Record<Phase, number>;
    return {
      step: { network: label, dispatches, submits, hostWrites, phaseMs, stepMs, imagesPerSecond: (w.batch * 1000) / stepMs },
      kinds: [...kinds.values()].sort((a, b) => (b.ms ?? b.megabytes) - (a.ms ?? a.megabytes)),
    };
  } finally {
    rt.observer = null;
    opt.zeroGrad();
    opt.dispose();
    for (const b of batches) {
      b.x.dispose();
      b.y.dispose();
    }
  }
}

const repeats = options.quick ? 3 : 9;
const results = [
  await profile(mlpWorkload(128), 'MLP b128 SGD', repeats),
  await profile(vggWorkload(8, 64), 'VGG w8 b64 Adam', options.quick ? 2 : 5),
];
const steps = results.map((r) => r.step);
const kinds = results.flatMap((r) => r.kinds);

const stepColumns: Column<StepRow>[] = [
  { title: 'network', value: (r) => r.network },
  { title: 'dispatches', value: (r) => String(r.dispatches), right: true },
  { title: 'submits', value: (r) => String(r.submits), right: true },
  { title: 'host writes', value: (r) => String(r.hostWrites), right: true },
  ...PHASES.map((p) => ({ title: `${p} ms`, value: (r: StepRow) => num(r.phaseMs[p]), right: true })),
  { title: 'step ms', value: (r) => num(r.stepMs), right: true },
  { title: 'img/s', value: (r) => num(r.imagesPerSecond, 0), right: true },
];
const kindColumns: Column<KindRow>[] = [
  { title: 'network', value: (r) => r.network },
  { title: 'phase', value: (r) => r.phase },
  { title: 'op', value: (r) => r.op },
  { title: 'count', value: (r) => String(r.count), right: true },
  { title: 'MB bound', value: (r) => num(r.megabytes, 2), right: true },
  { title: 'ms alone', value: (r) => (r.ms === null ? '-' : num(r.ms, 2)), right: true },
];
const notes = [
  `engine: ${E.adapterLabel(adapter)}; host: ${host.cpus} CPUs, load average ${host.loadAverage.map((l) => l.toFixed(1)).join(' ')} at the start.`,
  `phase ms: medians of ${repeats} (VGG: fewer) steps with a fence after each phase; step ms: the same steps without inner fences.`,
  timesKernels
    ? 'ms alone: per step, each dispatch submitted on its own (this adapter runs the work inside the submit); their sum exceeds the step.'
    : 'ms alone: not measured (this adapter does not run the work inside the submit).',
];
console.log('');
notes.forEach((n) => console.log(n));
printTable(stepColumns, steps);
console.log('');
printTable(kindColumns, kinds);
if (options.json) await writeJsonReport(options.json, { adapter, host, quick: options.quick, steps, kinds });
if (options.markdown) await writeMarkdownReport(options.markdown, 'bench:step: where a training step goes', stepColumns, steps, notes);
