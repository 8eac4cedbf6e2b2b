/**
 * Zero-filling secrets on the GPU in order: wipeTensor records its fill after the copies and dispatches already
 * recorded (a queue.writeBuffer of zeros would run before them, at the start of the next submit).
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { useEngine } from '../helpers/setup.js';
import { allZero } from '../helpers/arrays.js';

useEngine();

describe('wipeTensor', () => {
  it('zero-fills after a copy recorded before it: the copy sees the data, the tensor ends up zero', async () => {
    const secret = E.tensor(Float32Array.from({ length: 1000 }, (_, i) => i + 1));
    const copy = E.zeros([1000]);
    E.runtime().copy(secret.buffer(), 0, copy.buffer(), 0, 4000);
    E.wipeTensor(secret);
    expect(Array.from((await copy.data()) as Float32Array).slice(0, 3)).toEqual([1, 2, 3]);
    expect(allZero(await E.runtime().read(secret.buffer(), secret.buffer().size))).toBe(true);
    secret.dispose();
    copy.dispose();
  });
});
