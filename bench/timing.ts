/** Wall-clock timing of GPU work: each run ends with a readback, so a run's time covers the GPU finishing it. */

export interface RepeatPlan {
  /** Untimed runs first (pipeline compilation, pool warm-up). */
  warmup: number;
  /** Timed runs: at least `minRepeats`, then more until `maxRepeats` or until the timed total passes `budgetMs`. */
  minRepeats: number;
  maxRepeats: number;
  budgetMs: number;
}

export interface Timing {
  medianMs: number;
  samplesMs: number[];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Median time of `run` (which must not resolve before its GPU work is done) over the plan's repeats. */
export async function timeRuns(run: () => Promise<void>, plan: RepeatPlan): Promise<Timing> {
  for (let i = 0; i < plan.warmup; i++) await run();
  const samplesMs: number[] = [];
  let total = 0;
  while (samplesMs.length < plan.minRepeats || (samplesMs.length < plan.maxRepeats && total < plan.budgetMs)) {
    const start = performance.now();
    await run();
    const ms = performance.now() - start;
    samplesMs.push(ms);
    total += ms;
  }
  return { medianMs: median(samplesMs), samplesMs };
}

/** Seconds for `steps` steps enqueued back to back after `warmup` untimed ones, ending with `sync` (a readback that waits for the last). */
export async function timeSteps(step: (i: number) => void, sync: () => Promise<void>, warmup: number, steps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) step(i);
  await sync();
  const start = performance.now();
  for (let i = 0; i < steps; i++) step(warmup + i);
  await sync();
  return (performance.now() - start) / 1000;
}

/**
 * Median (and fastest) time of one unit of work, timed in bursts: `run(units)` enqueues that many back to back and
 * ends with a readback. The burst is sized from a first single run so that a run lasts about `runMs`: a short
 * kernel is then not measured as mostly submit and readback latency. (bench/torch_peer.py sizes its bursts the
 * same way.)
 */
export async function timeInBursts(
  run: (units: number) => Promise<void>,
  plan: RepeatPlan,
  runMs: number,
): Promise<{ msPerUnit: number; bestMsPerUnit: number; burst: number }> {
  await run(1);
  const start = performance.now();
  await run(1);
  const burst = Math.max(1, Math.min(1000, Math.round(runMs / Math.max(performance.now() - start, 1e-3))));
  const timing = await timeRuns(() => run(burst), plan);
  return { msPerUnit: timing.medianMs / burst, bestMsPerUnit: Math.min(...timing.samplesMs) / burst, burst };
}
