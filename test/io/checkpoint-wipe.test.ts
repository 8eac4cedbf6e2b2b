/**
 * decodeModelInto leaves no weights behind: neither in the temporary GPU tensors it uploads through (zero-filled
 * after loadStateDict's copies, before the pool can hand them out again) nor in the host copies it decodes.
 */
import { describe, expect, it, vi } from 'vitest';
import * as E from '../../engine/node.js';
import { useEngine } from '../helpers/setup.js';
import { decodeModelInto, encodeModel } from '../../engine/io/checkpoint.js';
import * as safetensors from '../../engine/io/safetensors.js';
import { buildModel } from '../../engine/nn/models.js';
import { allZero } from '../helpers/arrays.js';

/** Every file decodeSafetensors hands out, so the test can check that decodeModelInto wiped it. */
vi.mock('../../engine/io/safetensors.js', async (original) => {
  const real = await original<typeof import('../../engine/io/safetensors.js')>();
  const decoded: safetensors.SafetensorsFile[] = [];
  return {
    ...real,
    decoded,
    decodeSafetensors: (...args: Parameters<typeof real.decodeSafetensors>) => {
      const f = real.decodeSafetensors(...args);
      decoded.push(f);
      return f;
    },
  };
});

useEngine();

describe('decodeModelInto', () => {
  it('zero-fills the temporaries it uploads through and the host copies it decodes', async () => {
    const source = buildModel('mlp', { inputShape: [1, 8, 8], numClasses: 10, seed: 5 });
    const bytes = await encodeModel(source);
    const target = buildModel('mlp', { inputShape: [1, 8, 8], numClasses: 10, seed: 6 });
    const pool = E.runtime().pool;
    const released: GPUBuffer[] = [];
    const release = pool.release.bind(pool);
    pool.release = (b: GPUBuffer) => {
      released.push(b);
      release(b);
    };
    const decoded = (safetensors as unknown as { decoded: safetensors.SafetensorsFile[] }).decoded;
    decoded.length = 0;
    try {
      decodeModelInto(target, bytes);
    } finally {
      pool.release = release;
    }
    expect(released.length).toBe(source.stateDict().size);
    for (const b of released) expect(allZero(await E.runtime().read(b, b.size))).toBe(true);
    expect(decoded).toHaveLength(1);
    for (const t of decoded[0]!.tensors.values()) expect(allZero(t.data.buffer as ArrayBuffer)).toBe(true);
    // The model itself got the weights.
    const [name, w] = [...source.stateDict()][1]!;
    expect(Array.from(await target.stateDict().get(name)!.data())).toEqual(Array.from(await w.data()));
    source.dispose();
    target.dispose();
  });
});
