import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../engine/io/safetensors.js';

describe('safetensors from a Node Buffer', () => {
  it('decodes tensors of exactly their own size (Buffer.slice shares memory)', () => {
    const bytes = encodeSafetensors({
      a: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) },
      b: { dtype: 'I32', shape: [2], data: Int32Array.of(7, 8) },
    });
    // A Buffer inside a larger pool, as fs.readFile returns small files.
    const pool = Buffer.alloc(bytes.length + 64);
    pool.set(bytes, 32);
    const file = decodeSafetensors(pool.subarray(32, 32 + bytes.length));
    expect(Array.from(file.tensors.get('a')!.data as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(file.tensors.get('b')!.data as Int32Array)).toEqual([7, 8]);
  });
});
