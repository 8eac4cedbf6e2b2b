/** Learning-rate schedules: pure functions of the step, so resuming at step k needs only k. */
export interface LrSchedule {
  /** Learning rate for (0-based) epoch `epoch` and the fraction `progress` in [0, 1) of it done. */
  at(epoch: number, progress: number): number;
  describe(): string;
}

export function constantLr(base: number): LrSchedule {
  return { at: () => base, describe: () => `constant ${base}` };
}

/** Multiply by `gamma` at each milestone epoch (PyTorch MultiStepLR). */
export function multiStepLr(base: number, milestones: readonly number[], gamma = 0.1): LrSchedule {
  const sorted = [...milestones].sort((a, b) => a - b);
  return {
    at: (epoch) => base * gamma ** sorted.filter((m) => epoch >= m).length,
    describe: () => `multistep ${base} x${gamma} at epochs [${sorted.join(', ')}]`,
  };
}

/** Linear warm-up from ~0 over `warmupEpochs`, then cosine decay to `minLr` at `totalEpochs`. */
export function cosineLr(base: number, totalEpochs: number, warmupEpochs = 0, minLr = 0): LrSchedule {
  return {
    at: (epoch, progress) => {
      const t = epoch + progress;
      if (t < warmupEpochs) return base * Math.max(t / warmupEpochs, 1e-3);
      const span = Math.max(totalEpochs - warmupEpochs, 1e-9);
      const x = Math.min((t - warmupEpochs) / span, 1);
      return minLr + 0.5 * (base - minLr) * (1 + Math.cos(Math.PI * x));
    },
    describe: () => `cosine ${base} -> ${minLr} over ${totalEpochs} epochs, warm-up ${warmupEpochs}`,
  };
}
