import { describe, expect, it, beforeAll } from 'vitest';
import * as E from '../../engine/node.js';

beforeAll(async () => { await E.initEngine({ quiet: true }); });

describe('smoke', () => {
  it('adds and reduces', async () => {
    const a = E.tensor([[1, 2, 3], [4, 5, 6]]);
    const b = E.tensor([10, 20, 30]);
    const c = E.add(a, b);
    expect(Array.from(await c.data())).toEqual([11, 22, 33, 14, 25, 36]);
    expect(Array.from(await E.sum(c, 1).data())).toEqual([66, 75]);
    expect(Array.from(await E.transpose(a).data())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(await E.argmax(a, 1).data())).toEqual([2, 2]);
    const x = E.tensor([1, -2, 3]); x.requiresGrad = true;
    const y = E.sum(E.mul(x, x));
    y.backward();
    expect(Array.from(await x.grad!.data())).toEqual([2, -4, 6]);
  });
});
