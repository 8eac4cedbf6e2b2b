/**
 * Tensors an op saves for backward belong to its graph node: backward frees them when it releases the node,
 * disposing the output without backward frees them too, and backward works outside the scope the forward ran
 * in. Checked by the runtime's accounting of live tensors and bytes, for every op that saves something.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

const rng = new Rng(2024);

/** A leaf requiring gradients, with fresh values. */
function leaf(shape: number[]): E.Tensor {
  const t = E.tensor(
    randomData(
      shape.reduce((a, b) => a * b, 1),
      rng,
    ),
    shape,
  );
  t.requiresGrad = true;
  return t;
}

/**
 * Ops that save tensors for backward, each applied to a leaf x; `own` hands the caller the other operands it
 * creates (the caller disposes them).
 */
const savers: { name: string; shape: number[]; apply: (x: E.Tensor, own: (t: E.Tensor) => E.Tensor) => E.Tensor }[] = [
  { name: 'maxPool2d (argmax)', shape: [2, 3, 4, 4], apply: (x) => E.maxPool2d(x, { kernelSize: 2 }) },
  {
    name: 'crossEntropy (row statistics, labels)',
    shape: [5, 7],
    apply: (x, own) => E.crossEntropy(x, own(E.tensor([0, 3, 6, 1, 2], [5], 'i32'))),
  },
  {
    name: 'klDivergence (row statistics, targets)',
    shape: [3, 4],
    apply: (x, own) => E.klDivergence(x, own(E.softmax(own(E.tensor(randomData(12, rng), [3, 4]))))),
  },
  {
    name: 'batchNorm2d, training (batch mean and variance)',
    shape: [4, 3, 2, 2],
    apply: (x, own) => E.batchNorm2d(x, { runningMean: own(E.zeros([3])), runningVar: own(E.ones([3])), training: true }),
  },
  {
    name: 'batchNorm2d, eval (snapshots of the running statistics)',
    shape: [4, 3, 2, 2],
    apply: (x, own) => E.batchNorm2d(x, { runningMean: own(E.zeros([3])), runningVar: own(E.ones([3])), training: false }),
  },
  { name: 'gather (indices)', shape: [4, 3], apply: (x, own) => E.gather(x, own(E.tensor([3, 0, 0, 2], [4], 'i32')), 0) },
  { name: 'takeAlongAxis (indices)', shape: [2, 3], apply: (x, own) => E.takeAlongAxis(x, own(E.tensor([2, 0, 1, 1], [2, 2], 'i32')), 1) },
  { name: 'where (condition)', shape: [6], apply: (x, own) => E.where(own(E.tensor([1, 0, 1, 0, 0, 1])), x, 0) },
];

/** Live tensors and bytes right now. */
function live(): { tensors: number; bytes: number } {
  const m = E.memory();
  return { tensors: m.liveTensors, bytes: m.liveBytes };
}

describe('saved tensors belong to the graph node', () => {
  for (const op of savers) {
    describe(op.name, () => {
      it('backward frees them with the node: afterwards only the tensors the caller holds are live', () => {
        const x = leaf(op.shape);
        const owned: E.Tensor[] = [];
        const before = live();
        const out = op.apply(x, (t) => (owned.push(t), t));
        const seed = E.onesLike(out);
        out.backward(seed);
        // Held by the caller: the output, the seed, x.grad and the other operands. Nothing else is live.
        const held = [out, seed, x.grad!, ...owned];
        expect(live()).toEqual({ tensors: before.tensors + held.length, bytes: before.bytes + held.reduce((s, t) => s + 4 * t.size, 0) });
        for (const t of [...held, x]) t.dispose();
      });

      it('disposing the output without backward frees them too', () => {
        const x = leaf(op.shape);
        const owned: E.Tensor[] = [];
        const before = live();
        const out = op.apply(x, (t) => (owned.push(t), t));
        expect(out.node).not.toBeNull();
        out.dispose();
        for (const t of owned) t.dispose();
        expect(live()).toEqual(before);
        x.dispose();
      });
    });
  }

  it('backward outside the scope the forward ran in gives the gradient that backward inside it gives', async () => {
    const data = randomData(5 * 7, rng);
    const labels = E.tensor([0, 3, 6, 1, 2], [5], 'i32');
    const inside = E.tensor(data, [5, 7]);
    inside.requiresGrad = true;
    E.scope(() => E.crossEntropy(inside, labels).backward());
    const outside = E.tensor(data, [5, 7]);
    outside.requiresGrad = true;
    // The loss is returned from its scope; the row statistics its node saved must outlive that scope.
    const loss = E.scope(() => E.crossEntropy(outside, labels));
    loss.backward();
    expect(Array.from(await outside.grad!.data())).toEqual(Array.from(await inside.grad!.data()));
    for (const t of [labels, inside, inside.grad!, outside, outside.grad!, loss]) t.dispose();
  });

  it('loss.backward({ retainGraph: true }) keeps what the nodes saved for a second walk, which then frees it', async () => {
    const x = leaf([1, 2, 4, 4]);
    const before = live();
    const pooled = E.maxPool2d(x, { kernelSize: 2 });
    const loss = E.sum(pooled);
    loss.backward({ retainGraph: true });
    const once = Array.from(await x.grad!.data());
    loss.backward();
    expect(Array.from(await x.grad!.data())).toEqual(once.map((v) => 2 * v));
    expect(() => loss.backward()).toThrow(/freed by an earlier backward/);
    // Live: the pooled values, the loss and x.grad; the argmax went with the second walk.
    expect(live()).toEqual({ tensors: before.tensors + 3, bytes: before.bytes + 4 * (pooled.size + 1 + x.size) });
    for (const t of [pooled, loss, x.grad!, x]) t.dispose();
  });
});
