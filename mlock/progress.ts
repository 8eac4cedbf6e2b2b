/** A terminal progress bar per epoch (samples/s, loss, ETA), quiet when output is not a terminal. */
import cliProgress from 'cli-progress';
import type { Progress } from '../engine/train/index.js';

export class EpochBar {
  private bar: cliProgress.SingleBar | null = null;
  private start = 0;

  constructor(
    private label: string,
    private enabled = Boolean(process.stdout.isTTY),
  ) {}

  begin(epoch: number, epochs: number, batches: number, phase = 'train'): void {
    this.start = performance.now();
    if (!this.enabled) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${this.label} ${phase} epoch ${epoch + 1}/${epochs} |{bar}| {value}/{total} batches | {rate} img/s | loss {loss} | lr {lr} | ETA {eta_formatted}`,
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(batches, 0, { rate: '-', loss: '-', lr: '-' });
  }

  update(p: Progress): void {
    if (!this.bar) return;
    const seconds = (performance.now() - this.start) / 1000;
    this.bar.update(p.batch, { rate: (p.samples / Math.max(seconds, 1e-9)).toFixed(0), loss: p.loss.toFixed(4), lr: p.lr.toPrecision(3) });
  }

  end(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
