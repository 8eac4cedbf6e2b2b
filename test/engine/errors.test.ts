/**
 * Bad input fails fast with a message naming the op, the shapes and what was expected, before any GPU work
 * (no dispatch recorded, no tensor allocated). GPU-side failures (a kernel that does not compile) surface as a
 * GpuError naming the op at the next sync.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { GpuError } from '../../engine/runtime/runtime.js';
import type { KernelProgram } from '../../kernels/program.js';
import { useEngine } from '../helpers/setup.js';

useEngine();

/** Expect `fn` to throw a message matching every pattern, having recorded no dispatch and allocated no tensor. */
function expectRejected(fn: () => unknown, ...patterns: RegExp[]): void {
  const dispatches = E.runtime().dispatchCount;
  const tensors = E.memory().liveTensors;
  let message = '';
  try {
    fn();
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message, 'expected an error').not.toBe('');
  for (const p of patterns) expect(message).toMatch(p);
  expect(E.runtime().dispatchCount, `GPU work was recorded before: ${message}`).toBe(dispatches);
  expect(E.memory().liveTensors, `a tensor was allocated before: ${message}`).toBe(tensors);
}

const f32 = (shape: number[]) => E.zeros(shape);

describe('shape and dtype checks name the op and the operands', () => {
  it('shapes that do not broadcast', () => {
    const a = f32([2, 3]);
    const b = f32([4]);
    expectRejected(() => E.add(a, b), /^add: /, /\[2, 3\]/, /\[4\]/, /cannot be broadcast/);
    const c = f32([3, 2]);
    const d = f32([5]);
    expectRejected(() => E.maximum(a, c), /^maximum: /, /\[2, 3\] and \[3, 2\]/);
    expectRejected(() => E.where(d, a, 0), /^where: /, /\[5\]/);
    // An i32 condition with f32 branches needs a mask conversion: the shapes are checked before it.
    const intCond = E.zeros([5], 'i32');
    expectRejected(() => E.where(intCond, a, 0), /^where: /, /\[5\]/, /\[2, 3\]/);
    expectRejected(() => E.broadcastTo(a, [3, 3]), /^broadcastTo: /, /\[2, 3\]/, /\[3, 3\]/);
    expectRejected(() => E.broadcastTo(d, [-5]), /^broadcastTo: invalid shape \[-5\]/);
  });

  it('dtype mismatches and dtypes an op does not accept', () => {
    const x = f32([2]);
    const i = E.zeros([2], 'i32');
    const floatIndices = f32([1]);
    expectRejected(() => E.add(x, i), /^add: dtype mismatch/, /f32\[2\]/, /i32\[2\]/);
    expectRejected(() => E.where(x, x, i), /^where: dtype mismatch/);
    expectRejected(() => E.concat([x, i]), /^concat: dtype mismatch \(f32 vs i32\)/);
    expectRejected(() => E.exp(i), /^exp: expects f32 tensors, got i32/);
    expectRejected(() => E.mean(i), /^mean: expects an f32 tensor, got i32/);
    expectRejected(() => E.gather(x, floatIndices), /^gather: indices must be an i32 or u32 tensor, got f32 \[1\]/);
  });

  it('number operands that an integer tensor cannot represent (they would be truncated or wrapped)', () => {
    const i = E.zeros([2], 'i32');
    const u = E.zeros([2], 'u32');
    const mask = E.ones([2]);
    expectRejected(() => E.less(i, 0.5), /^less: the number 0.5 cannot be used with i32 tensors/, /cast the tensor to f32/);
    expectRejected(() => E.add(2 ** 31, i), /^add: the number 2147483648 cannot be used with i32 tensors/);
    expectRejected(() => E.greater(u, -1), /^greater: the number -1 cannot be used with u32 tensors/);
    expectRejected(() => E.where(mask, i, 1.5), /^where: the number 1.5 cannot be used with i32 tensors/);
  });

  it('two numbers and no tensor', () => {
    expectRejected(() => E.add(1, 2), /^add: at least one operand must be a tensor/);
    expectRejected(() => E.less(1, 2), /^less: at least one operand must be a tensor/);
  });

  it('bad reshapes', () => {
    const x = f32([2, 3]);
    expectRejected(() => E.reshape(x, [4]), /^reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4\] \(4 elements\)/);
    expectRejected(() => E.reshape(x, [-1, 4]), /^reshape: cannot reshape \[2, 3\] \(6 elements\) to \[-1, 4\]/);
    expectRejected(() => E.reshape(x, [-1, -1]), /^reshape: at most one -1 in \[-1, -1\]/);
    expectRejected(() => E.reshape(x, [2, 3.5]), /^reshape: invalid shape \[2, 3.5\]/);
    expectRejected(() => E.squeeze(x, [0]), /^squeeze: axis 0 of \[2, 3\] has size 2, not 1/);
  });

  it('axes out of range or repeated', () => {
    const x = f32([2, 3]);
    const other = f32([3, 3]);
    const indices = E.zeros([1], 'i32');
    const columnIndices = E.zeros([3, 1], 'i32');
    expectRejected(() => E.sum(x, 2), /^sum: axis 2 is out of range for a tensor of rank 2/);
    expectRejected(() => E.max(x, [0, -2]), /^max: repeated axis in \[0,-2\]/);
    expectRejected(() => E.argmax(x, -3), /^argmax: axis -3 is out of range for a tensor of rank 2/);
    expectRejected(() => E.mean(x, 1.5), /^mean: axis 1.5 is out of range/);
    expectRejected(() => E.concat([x, x], 2), /^concat: axis 2 is out of range/);
    expectRejected(() => E.concat([x, other], 1), /^concat: shapes \[2, 3\], \[3, 3\] differ outside axis 1/);
    expectRejected(() => E.transpose(x, [0, 0]), /^transpose: permutation \[0,0\] is not a permutation of the 2 axes of \[2, 3\]/);
    expectRejected(() => E.transpose(x, [1]), /^transpose: permutation \[1\]/);
    expectRejected(() => E.gather(x, indices, 2), /^gather: axis 2 is out of range/);
    // A shape-[] tensor has no axis 0 to reduce, gather from or concatenate along.
    const scalar = E.tensor(1);
    expectRejected(() => E.sum(scalar, 0), /^sum: axis 0 is out of range for a tensor of rank 0/);
    expectRejected(() => E.gather(scalar, indices), /^gather: axis 0 is out of range for a tensor of rank 0/);
    expectRejected(() => E.concat([scalar, scalar]), /^concat: axis 0 is out of range for a tensor of rank 0/);
    expectRejected(
      () => E.takeAlongAxis(x, columnIndices, 1),
      /^takeAlongAxis: indices \[3, 1\] must match x \[2, 3\] on every axis but 1/,
    );
  });

  it('bad slices and pads', () => {
    const x = f32([4, 5]);
    expectRejected(() => E.slice(x, [1, 1], [4, 1]), /^slice: begin \[1,1\] size \[4,1\] is out of bounds for shape \[4, 5\] \(axis 0\)/);
    expectRejected(() => E.slice(x, [0, -1]), /^slice: .* is out of bounds for shape \[4, 5\] \(axis 1\)/);
    expectRejected(() => E.slice(x, [0]), /^slice: begin \[0\] .* must each have 2 entries for shape \[4, 5\]/);
    expectRejected(
      () => E.slice(x, [0.5, 0], [2, 2]),
      /^slice: begin \[0.5,0\] size \[2,2\] is out of bounds for shape \[4, 5\] \(axis 0\)/,
    );
    expectRejected(() => E.pad(x, [[1, 1]]), /^pad: expected 2 pairs of non-negative integers for shape \[4, 5\]/);
    expectRejected(
      () =>
        E.pad(x, [
          [1, 1],
          [-1, 0],
        ]),
      /^pad: expected 2 pairs/,
    );
  });

  it('tensor() with the wrong number of values, ragged arrays or bad shapes', () => {
    expectRejected(() => E.tensor([1, 2, 3], [2, 2]), /^tensor: 3 values cannot fill shape \[2, 2\] \(4 elements\)/);
    expectRejected(() => E.tensor(new Float32Array(5), [2, 3]), /^tensor: 5 values cannot fill shape \[2, 3\] \(6 elements\)/);
    expectRejected(
      () =>
        E.tensor([
          [1, 2],
          [3, 4, 5],
        ]),
      /^tensor: ragged nested array/,
    );
    expectRejected(() => E.tensor([1, 2], [-2]), /^tensor: invalid shape \[-2\]/);
    expectRejected(() => E.zeros([2, -1]), /^full: invalid shape \[2, -1\]/);
    const labels = E.zeros([2], 'i32');
    expectRejected(() => E.oneHot(labels, 0), /^oneHot: depth must be a positive integer, got 0/);
  });
});

describe('use after dispose', () => {
  it('any op on a disposed tensor names the op and says used after dispose()', () => {
    const x = f32([2, 3]);
    x.name = 'weights';
    const y = f32([2, 3]);
    const intMask = E.zeros([2, 3], 'i32');
    x.dispose();
    expect(x.isDisposed).toBe(true);
    const message = /was used after dispose\(\)/;
    expectRejected(() => E.exp(x), /^exp: tensor #\d+ 'weights' of shape \[2, 3\]/, message);
    expectRejected(() => E.add(y, x), /^add: /, message);
    expectRejected(() => E.sum(x), /^sum: /, message);
    expectRejected(() => E.reshape(x, [6]), /^reshape: /, message);
    expectRejected(() => E.transpose(x), /^transpose: /, message);
    expectRejected(() => E.concat([y, x]), /^concat: /, message);
    expectRejected(() => E.gather(y, x), /^gather: /, message);
    expectRejected(() => E.where(x, y, 0), /^where: /, message);
    expectRejected(() => E.where(intMask, x, 0), /^where: /, message);
    // Disposing twice is harmless.
    x.dispose();
  });

  it('reading back a disposed tensor rejects', async () => {
    const x = E.tensor([1, 2]);
    x.dispose();
    await expect(x.data()).rejects.toThrow(/^data: tensor #\d+ of shape \[2\] was used after dispose\(\)/);
    await expect(x.item()).rejects.toThrow(/item: expected a tensor with one element, got shape \[2\]/);
    const s = E.tensor(3);
    s.dispose();
    await expect(s.item()).rejects.toThrow(/used after dispose\(\)/);
  });

  it('a reshape view outlives its source: the shared buffer stays valid until both are disposed', async () => {
    const x = E.tensor([1, 2, 3, 4]);
    const v = E.reshape(x, [2, 2]);
    x.dispose();
    expect(Array.from(await v.data())).toEqual([1, 2, 3, 4]);
    v.dispose();
  });
});

describe('GPU-side failures', () => {
  it('a kernel that does not compile raises a GpuError naming its op at sync()', async () => {
    const broken: KernelProgram = {
      name: 'deliberatelyBroken',
      key: 'test|deliberately-broken',
      workgroupSize: [64],
      uniforms: [],
      inputs: {},
      outputs: { out: 'f32' },
      grid: () => [1],
      body: () => '@compute @workgroup_size(64) fn main() { out[0] = undefined_identifier; }',
    };
    const out = E.zeros([4]);
    E.runtime().run({ program: broken }, { out: out.buffer() });
    const error = await E.runtime()
      .sync()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(GpuError);
    expect((error as Error).message).toMatch(/deliberatelyBroken/);
    // Reported once: the device stays usable for the next, valid work.
    expect(Array.from(await E.exp(E.zeros([2])).data())).toEqual([1, 1]);
  });
});
