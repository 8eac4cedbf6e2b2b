/**
 * No import-order wiring: this file imports engine/nn and engine/optim (and the few op modules it needs), never
 * engine/index.ts or engine/node.ts, and still gets a working engine, backward included.
 */
import { describe, expect, it } from 'vitest';
import '../../engine/gpu/dawn.js';
import { initEngine } from '../../engine/context.js';
import { Rng } from '../../engine/random.js';
import { Linear } from '../../engine/nn/index.js';
import { SGD } from '../../engine/optim/index.js';
import { tensor } from '../../engine/ops/creation.js';
import { crossEntropy } from '../../engine/ops/softmax.js';

describe('importing only engine/nn and engine/optim', () => {
  it('a linear layer trains a step: backward fills every parameter gradient and the step lowers the loss', async () => {
    await initEngine();
    const layer = new Linear(3, 2, { rng: new Rng(7) });
    const x = tensor([1, -2, 0.5, 0.25, 1, -1], [2, 3]);
    const labels = tensor([1, 0], [2], 'i32');
    const loss = crossEntropy(layer.forward(x), labels);
    loss.backward({ retainGraph: false });
    const params = layer.parameters();
    expect(params.length).toBe(2);
    for (const p of params) expect(p.grad?.shape).toEqual(p.shape);
    const optimizer = new SGD(params, { lr: 0.5 });
    optimizer.step();
    const after = crossEntropy(layer.forward(x), labels);
    expect(await after.item()).toBeLessThan(await loss.item());
  });
});
