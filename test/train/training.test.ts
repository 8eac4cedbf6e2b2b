import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { BatchLoader } from '../../engine/data/batches.js';
import { meanStd, subset } from '../../engine/data/dataset.js';
import { loadMnist } from '../../engine/data/node/mnist.js';
import { decodeModelInto, decodeTrainingCheckpoint, encodeModel, encodeTrainingCheckpoint } from '../../engine/io/checkpoint.js';
import { decodeSafetensors } from '../../engine/io/safetensors.js';
import { lenet5, mlp, vgg } from '../../engine/nn/models.js';
import { SGD, Adam } from '../../engine/optim/index.js';
import { evaluate, trainEpoch } from '../../engine/train/fit.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

async function mnistSubset(n: number) {
  const train = await loadMnist({ split: 'train' });
  return subset(
    train,
    Int32Array.from({ length: n }, (_, i) => i),
  );
}

describe('training', () => {
  it("a tiny MLP's loss falls and its accuracy rises on an MNIST subset", async () => {
    const ds = await mnistSubset(1024);
    const normalization = meanStd(ds);
    const model = mlp({ inputShape: [1, 28, 28], numClasses: 10, seed: 1, hidden: [64], dropout: 0 });
    const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const loader = new BatchLoader(ds, { batchSize: 64, shuffle: true, normalization });
    const before = await evaluate(model, loader);
    const losses: number[] = [];
    for (let e = 0; e < 3; e++) losses.push((await trainEpoch({ model, optimizer, loader, epoch: e, rng: new E.Rng(e) })).loss);
    const after = await evaluate(model, loader);
    expect(losses[2]!).toBeLessThan(losses[0]! * 0.7);
    expect(after.loss).toBeLessThan(before.loss * 0.5);
    expect(after.accuracy).toBeGreaterThan(0.85);
    loader.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('VGG and LeNet-5 build for 32x32 RGB and 28x28 grey inputs and produce [batch, classes]', async () => {
    for (const [model, shape] of [
      [vgg({ inputShape: [3, 32, 32], numClasses: 10, width: 4 }), [2, 3, 32, 32]],
      [lenet5({ inputShape: [1, 28, 28], numClasses: 10 }), [2, 1, 28, 28]],
    ] as const) {
      const y = E.scope(() => E.keep(model.forward(E.rand(shape, { seed: 3 }))));
      expect(y.shape).toEqual([2, 10]);
      expect(Array.from((await y.data()) as Float32Array).every(Number.isFinite)).toBe(true);
      y.dispose();
      model.dispose();
    }
  });

  it('save -> load -> continue matches an uninterrupted run exactly', async () => {
    const ds = await mnistSubset(512);
    const normalization = meanStd(ds);
    const make = () => {
      const model = mlp({ inputShape: [1, 28, 28], numClasses: 10, seed: 4, hidden: [32], dropout: 0.2 });
      return { model, optimizer: new Adam(model.parameters(), { lr: 1e-3 }) };
    };
    const epochs = async (m: ReturnType<typeof make>, from: number, to: number) => {
      const loader = new BatchLoader(ds, { batchSize: 64, shuffle: true, normalization, augment: { cropPadding: 2 } });
      for (let e = from; e < to; e++)
        await trainEpoch({ model: m.model, optimizer: m.optimizer, loader, epoch: e, rng: new E.Rng(100 + e) });
      loader.dispose();
    };
    const straight = make();
    await epochs(straight, 0, 3);
    const first = make();
    await epochs(first, 0, 1);
    const bytes = await encodeTrainingCheckpoint(first.model, first.optimizer, { epoch: 1, batch: 0, rng: [1, 2, 3, 4] });
    first.optimizer.dispose();
    first.model.dispose();
    const resumed = make();
    const position = decodeTrainingCheckpoint(resumed.model, resumed.optimizer, bytes);
    expect(position.epoch).toBe(1);
    await epochs(resumed, position.epoch, 3);
    const a = await Promise.all(straight.model.parameters().map((p) => p.data()));
    const b = await Promise.all(resumed.model.parameters().map((p) => p.data()));
    a.forEach((x, i) => expect(Array.from(b[i]!)).toEqual(Array.from(x)));
    for (const m of [straight, resumed]) {
      m.optimizer.dispose();
      m.model.dispose();
    }
  });

  it('model files use PyTorch state-dict names and round-trip', async () => {
    const model = vgg({ inputShape: [3, 32, 32], numClasses: 10, width: 2, seed: 5 });
    const bytes = await encodeModel(model, { note: 'x' });
    const names = [...decodeSafetensors(bytes).tensors.keys()];
    expect(names).toContain('0.weight');
    expect(names).toContain('1.running_mean');
    expect(names).toContain('1.running_var');
    const other = vgg({ inputShape: [3, 32, 32], numClasses: 10, width: 2, seed: 6 });
    decodeModelInto(other, bytes);
    const [pa, pb] = await Promise.all([model.parameters()[0]!.data(), other.parameters()[0]!.data()]);
    expect(Array.from(pb)).toEqual(Array.from(pa));
    const wrong = vgg({ inputShape: [3, 32, 32], numClasses: 10, width: 3 });
    expect(() => decodeModelInto(wrong, bytes, 'w2.safetensors')).toThrow(/w2\.safetensors.*shape/);
    for (const m of [model, other, wrong]) m.dispose();
  });
});
