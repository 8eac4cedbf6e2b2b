/** Creating tensors: from host data (shape-checked), constants and ranges on the GPU, seeded random values. */
import { runtime } from '../context.js';
import { dtypeOfArray, type AnyTypedArray, type DType } from '../dtype.js';
import { Rng } from '../random.js';
import { checkShape, fmt, sizeOf, type Shape } from '../shape.js';
import { emptyTensor, Tensor } from '../tensor.js';
import { runProgram } from '../run-program.js';
import { rangeProgram } from '../../kernels/fill.js';

export type NestedArray = number | NestedArray[];

function inferShape(values: NestedArray): number[] {
  const shape: number[] = [];
  let v: NestedArray = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0] as NestedArray;
    if (v === undefined) break;
  }
  return shape;
}

function flatten(op: string, values: NestedArray, shape: number[], dim = 0, out: number[] = []): number[] {
  if (dim === shape.length) {
    if (typeof values !== 'number') throw new Error(`${op}: ragged nested array (expected a number at depth ${dim})`);
    out.push(values);
    return out;
  }
  if (!Array.isArray(values) || values.length !== shape[dim]) {
    throw new Error(`${op}: ragged nested array: dimension ${dim} should have length ${shape[dim]}`);
  }
  for (const v of values) flatten(op, v, shape, dim + 1, out);
  return out;
}

/**
 * A tensor from host values: a nested array (shape inferred), or a flat array / typed array with a shape.
 * The dtype defaults to the typed array's, else f32.
 */
export function tensor(values: NestedArray | ArrayLike<number> | AnyTypedArray, shape?: Shape, dtype?: DType): Tensor {
  const op = 'tensor';
  let flat: ArrayLike<number>;
  let finalShape: number[];
  const typed = ArrayBuffer.isView(values) ? dtypeOfArray(values) : null;
  if (ArrayBuffer.isView(values) && typed === null) {
    throw new Error(`${op}: unsupported typed array ${(values as object).constructor.name}; use Float32Array, Int32Array or Uint32Array`);
  }
  if (typeof values === 'number') {
    flat = [values];
    finalShape = shape ? [...shape] : [];
  } else if (shape) {
    flat = ArrayBuffer.isView(values) ? values : flatten(op, values as NestedArray, inferShape(values as NestedArray));
    finalShape = [...shape];
  } else {
    finalShape = ArrayBuffer.isView(values) ? [values.length] : inferShape(values as NestedArray);
    flat = ArrayBuffer.isView(values) ? values : flatten(op, values as NestedArray, finalShape);
  }
  checkShape(op, finalShape);
  if (flat.length !== sizeOf(finalShape)) {
    throw new Error(`${op}: ${flat.length} values cannot fill shape ${fmt(finalShape)} (${sizeOf(finalShape)} elements)`);
  }
  const dt: DType = dtype ?? typed ?? 'f32';
  if (typed && dtype && typed !== dtype)
    throw new Error(`${op}: a ${(values as object).constructor.name} cannot make a ${dtype} tensor without a cast`);
  const t = emptyTensor(finalShape, dt);
  if (flat.length > 0) {
    // A typed array of the right type is uploaded as it is: no host copy (callers may wipe theirs afterwards).
    const same = ArrayBuffer.isView(flat) && dtypeOfArray(flat) === dt;
    const data = same
      ? (flat as AnyTypedArray)
      : dt === 'f32'
        ? Float32Array.from(flat)
        : dt === 'i32'
          ? Int32Array.from(flat)
          : Uint32Array.from(flat);
    runtime().write(t.buffer(), data);
  }
  return t;
}

function range(shape: Shape, start: number, step: number, dtype: DType, op: string): Tensor {
  checkShape(op, shape);
  return runProgram(rangeProgram(dtype), { inputs: {}, outputs: { out: shape }, uniforms: { n: sizeOf(shape), start, step } }).out;
}

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  return range(shape, value, 0, dtype, 'full');
}

export function zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: Shape, dtype: DType = 'f32'): Tensor {
  return full(shape, 1, dtype);
}

export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype);
}

export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, t.dtype);
}

/** [start, start+step, ...) below `stop`, like NumPy's arange. */
export function arange(start: number, stop?: number, step = 1, dtype: DType = 'f32'): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  return range([n], start, step, dtype, 'arange');
}

/** Uniform values in [low, high), drawn on the CPU from a seeded generator (deterministic everywhere). */
export function rand(shape: Shape, options: { seed?: number; rng?: Rng; low?: number; high?: number } = {}): Tensor {
  checkShape('rand', shape);
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const v = new Float32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = low + (high - low) * rng.next();
  return tensor(v, shape);
}

/** Normal values with the given mean and standard deviation, from a seeded generator. */
export function randn(shape: Shape, options: { seed?: number; rng?: Rng; mean?: number; std?: number } = {}): Tensor {
  checkShape('randn', shape);
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const v = new Float32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = mean + std * rng.normal();
  return tensor(v, shape);
}
