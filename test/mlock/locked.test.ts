import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, type EpochLog, type RunOptions, type RunReport } from '../../mlock/run.js';
import { QUIET_SHARE } from '../../mlock/quiet-places.js';
import { isSealed } from '../../mlock/sealed-model.js';
import { LockedModel } from '../../mlock/runtime.js';
import { loadMnist } from '../../engine/data/node/mnist.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

const KEY = 'correct horse battery staple';

function options(out: string): RunOptions {
  return {
    dataset: 'mnist',
    strategy: { name: 'uniform' },
    token: { key: KEY },
    epochs: 12,
    trainSubset: 5000,
    testSubset: 1000,
    forgedKeys: 20,
    forgedSamples: 200,
    auditPerDistance: 20,
    baseline: false,
    out,
    seed: 1,
    log: () => {},
    progress: false,
  };
}

describe('locked training, end to end on an MNIST subset', () => {
  let out = '';
  let report: RunReport;

  it('separates authorized from unauthorized accuracy by a wide margin', async () => {
    out = await mkdtemp(join(tmpdir(), 'mlock-test-'));
    report = await run(options(out));
    expect(report.authorizedAccuracy!).toBeGreaterThan(0.85);
    expect(report.unauthorizedAccuracy!).toBeLessThan(0.2);
    // The audit ran on the model and says what it measured: every group, worst next to mean.
    const audit = report.audit!;
    expect(audit.groups.map((g) => g.family)).toEqual(
      expect.arrayContaining([
        'cells',
        'shift',
        'brightness',
        'cover',
        'transform',
        'look-alike',
        'paper-pattern',
        'random-key',
        'query-climb',
      ]),
    );
    expect(audit.groups.find((g) => g.family === 'random-key')!.count).toBe(20);
    // The probability climb at this light audit's size: one start per basin distance (reported only), two blind.
    const climbs = audit.groups.filter((g) => g.family === 'query-climb');
    expect(climbs.map((g) => [g.parameter ?? null, g.count, g.bounded])).toEqual([
      [2, 1, false],
      [3, 1, false],
      [4, 1, false],
      [6, 1, false],
      [8, 1, false],
      [null, 2, true],
    ]);
    expect(audit.queryClimb!.blind.starts).toBe(2);
    expect(audit.queryClimb!.basin.map((b) => b.cells)).toEqual([2, 3, 4, 6, 8]);
    // Past the curve's 8 cells, sampled up to all 64, and bounded like the curve.
    expect(audit.groups.find((g) => g.label === 'cells changed: 9-64')).toMatchObject({ family: 'cells', count: 20, bounded: true });
    // 2^64 patterns at one of the quiet quarter of the 19 x 19 places (quiet-places.ts).
    expect(audit.guesses.log2TokenSpace).toBeCloseTo(64 + Math.log2(Math.round(QUIET_SHARE * 19 * 19)), 6);
    const onDisk = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as RunReport;
    expect(onDisk.authorizedAccuracy).toBe(report.authorizedAccuracy);
    expect(await readFile(join(out, 'curves.svg'), 'utf8')).toMatch(/^<svg/);
  }, 400_000);

  it('decoy training is what rejects forgeries: the audit opens the paper scheme with shifted tokens, look-alikes and other keys', async () => {
    // Attacks the defence is judged by, not a replay of its training: forgeries drawn fresh by the audit.
    const paper = await run({ ...options(await mkdtemp(join(tmpdir(), 'mlock-paper-'))), decoyRatio: 0 });
    const group = (r: RunReport, label: string) => r.audit!.groups.find((g) => g.label.startsWith(label))!;
    // Measured at this budget (12 epochs of 5,000 images): the paper scheme answers 60-90% right for these,
    // the decoy-trained lock under 10% on average. (Changed cells need the demo's longer training.)
    for (const label of ['shifted 1 px', 'look-alike patterns']) {
      expect(group(paper, label).mean, `paper scheme, ${label}`).toBeGreaterThan(0.3);
      expect(group(report, label).mean, `decoy training, ${label}`).toBeLessThan(0.15);
    }
    // The paper's 3x3 patterns cover a seventh of the 8x8 token; at this key's quiet place they stay locked
    // even without decoys (13%), so only the decoy-trained side is held to a bound.
    expect(group(report, "the paper's public patterns").mean).toBeLessThan(0.15);
    expect(group(paper, 'random other keys').worst).toBeGreaterThan(0.3);
    expect(group(report, 'random other keys').worst).toBeLessThan(0.25);
    // Without decoys, near misses unlock at every distance measured, so the audit refuses to estimate guesses.
    expect(paper.audit!.guesses.localityHolds).toBe(false);
  }, 400_000);

  it('a warm start locks the baseline: locked training begins from its weights, not from scratch', async () => {
    // One epoch of 2,000 images with every sample authorized (poison ratio 0): the locked epoch is then plain
    // training on stamped images, so a warm start has had two epochs of training and a fresh network one.
    const brief = (dir: string): RunOptions => ({
      ...options(dir),
      epochs: 1,
      trainSubset: 2000,
      poisonRatio: 0,
      forgedKeys: 5,
      auditPerDistance: 5,
    });
    const firstEpoch = async (dir: string) => (JSON.parse(await readFile(join(dir, 'history.json'), 'utf8')) as EpochLog[])[0]!.valAccuracy;
    const coldDir = await mkdtemp(join(tmpdir(), 'mlock-cold-'));
    const warmDir = await mkdtemp(join(tmpdir(), 'mlock-warm-'));
    await run({ ...brief(coldDir), baseline: true });
    // Two lock epochs after the one baseline epoch: --lock-epochs sets the lock's share alone.
    const warmRun = await run({ ...brief(warmDir), baseline: true, warmStart: true, lockEpochs: 2 });
    expect(warmRun.epochs).toBe(2);
    expect((JSON.parse(await readFile(join(warmDir, 'history.json'), 'utf8')) as EpochLog[]).length).toBe(2);
    const cold = await firstEpoch(coldDir);
    const warm = await firstEpoch(warmDir);
    // Measured: 0.785 from scratch, 0.85 warm; a warm start that ignored the baseline would equal the cold run.
    expect(warm).toBeGreaterThan(cold + 0.03);
    await expect(run({ ...brief(warmDir), warmStart: true, lockEpochs: 2, resume: true })).rejects.toThrow(/warm start locks the baseline/);

    // The report's way: lock an unlocked run's saved model (startFrom) instead of training the baseline again.
    // Training is deterministic, so it must reproduce the warm start's locked epochs exactly.
    const plainDir = await mkdtemp(join(tmpdir(), 'mlock-plain-'));
    const plain = await run({ ...brief(plainDir), strategy: null });
    const plainHistory = JSON.parse(await readFile(join(plainDir, 'history.json'), 'utf8')) as EpochLog[];
    const fromDir = await mkdtemp(join(tmpdir(), 'mlock-from-'));
    const startFrom = {
      weights: new Uint8Array(await readFile(join(plainDir, 'model.safetensors'))),
      validationAccuracy: plainHistory[plain.bestEpoch - 1]!.valAccuracy,
      testAccuracy: plain.testAccuracy!,
    };
    const fromRun = await run({ ...brief(fromDir), startFrom, lockEpochs: 2 });
    const locked = async (dir: string) =>
      (JSON.parse(await readFile(join(dir, 'history.json'), 'utf8')) as EpochLog[]).map(({ seconds, imagesPerSecond, ...rest }) => rest);
    expect(await locked(fromDir)).toEqual(await locked(warmDir));
    expect(fromRun.authorizedAccuracy).toBe(warmRun.authorizedAccuracy);
    expect(fromRun.baselineAccuracy).toBe(warmRun.baselineAccuracy);
    await expect(run({ ...brief(fromDir), startFrom, baseline: true, lockEpochs: 2 })).rejects.toThrow(
      /startFrom locks a trained baseline/,
    );
  }, 400_000);

  it('a run interrupted after an epoch resumes with the decoys it would have drawn: the same history as without the stop', async () => {
    // The mined cells and forgery kinds set each epoch's decoys from the model; a resume must set them again.
    const brief = (dir: string): RunOptions => ({ ...options(dir), epochs: 3, trainSubset: 2000, forgedKeys: 5, auditPerDistance: 5 });
    const history = async (dir: string) =>
      (JSON.parse(await readFile(join(dir, 'history.json'), 'utf8')) as EpochLog[]).map(({ seconds, imagesPerSecond, ...rest }) => rest);
    const whole = await mkdtemp(join(tmpdir(), 'mlock-whole-'));
    const split = await mkdtemp(join(tmpdir(), 'mlock-split-'));
    await run(brief(whole));
    const stopped = await run({ ...brief(split), maxMinutes: 1e-9 });
    expect(stopped.epochs).toBe(1);
    await run({ ...brief(split), resume: true });
    const expected = await history(whole);
    expect(expected.every((e) => e.valForgeries && e.nextShares)).toBe(true);
    expect(await history(split)).toEqual(expected);
  }, 300_000);

  it('the model file and both training checkpoints are sealed, and --resume opens them with the key', async () => {
    for (const file of ['model.safetensors', 'checkpoint.safetensors', 'checkpoint.safetensors.best']) {
      expect(isSealed(new Uint8Array(await readFile(join(out, file)))), file).toBe(true);
    }
    const resumed = await run({ ...options(out), resume: true });
    expect(resumed.authorizedAccuracy).toBe(report.authorizedAccuracy);
    await expect(run({ ...options(out), token: { key: `${KEY}?` }, resume: true })).rejects.toThrow(
      /wrong passphrase, or the file was modified/,
    );
  }, 200_000);

  it('the saved model holds no key bytes, only the token geometry', async () => {
    const bytes = new Uint8Array(await readFile(join(out, 'model.safetensors')));
    const text = Buffer.from(bytes).toString('latin1');
    expect(text.includes(KEY)).toBe(false);
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
    const lock = JSON.parse(header.__metadata__.lock);
    expect(lock).toMatchObject({
      required: true,
      keyed: true,
      geometry: { version: 2, h: 8, w: 8, c: 1, levels: 2, placement: { mode: 'secret' } },
    });
    expect(JSON.stringify(lock)).not.toMatch(/pixels|key"/);
  });

  it('the runtime predicts correctly only while unlocked; lock() and the idle timeout wipe the key', async () => {
    const bytes = new Uint8Array(await readFile(join(out, 'model.safetensors')));
    let locks = 0;
    const model = LockedModel.load(bytes, { idleMs: 150, onLock: () => locks++ });
    const test = await loadMnist({ split: 'test' });
    const n = 200;
    const images = test.images.subarray(0, n * 784);
    const labels = test.labels.subarray(0, n);
    const accuracy = (classes: Int32Array) => classes.reduce((s, c, i) => s + (c === labels[i] ? 1 : 0), 0) / n;

    await expect(model.predict(images, n)).rejects.toThrow(/locked: unlock/);
    await model.unlock(KEY);
    const locked = await model.predict(images, n, { withToken: false });
    expect(locked.unlocked).toBe(false);
    const internals = model as unknown as { keyBytes: Uint8Array; token: { pixels: Uint8Array } };
    const keyBytes = internals.keyBytes;
    const pixels = internals.token.pixels;
    expect(keyBytes.some((b) => b !== 0)).toBe(true);
    const unlocked = await model.predict(images, n);
    expect(unlocked.unlocked).toBe(true);
    expect(accuracy(unlocked.classes)).toBeGreaterThan(accuracy(locked.classes) + 0.4);

    model.lock();
    expect(model.holdsKeyMaterial()).toBe(false);
    expect(keyBytes.every((b) => b === 0)).toBe(true);
    expect(pixels.every((b) => b === 0)).toBe(true);
    expect(locks).toBe(1);

    await model.unlock(KEY);
    const again = (model as unknown as { keyBytes: Uint8Array }).keyBytes;
    await new Promise((r) => setTimeout(r, 400));
    expect(model.isUnlocked).toBe(false);
    expect(again.every((b) => b === 0)).toBe(true);
    expect(locks).toBe(2);
    await expect(model.predict(images, n)).rejects.toThrow(/locked: unlock/);
    model.dispose();
  });
});
