/// <reference types="@webgpu/types" preserve="true" />
// Keeps the WebGPU types referenced from the emitted .d.ts, so package users get them (@webgpu/types is a dependency).
/**
 * A tensor: a shape, a dtype and GPU storage, plus (when it takes part in differentiation) the graph node that
 * produced it. Storage is reference counted so reshapes share a buffer. Data leaves the GPU only through
 * async readback (`await t.data()`).
 */
import { runtime } from './context.js';
import { typedArrayFor, type AnyTypedArray, type DType } from './dtype.js';
import { fmt, sizeOf, type Shape } from './shape.js';
import { trackTensor } from './scope.js';
import { releaseNode, type GradNode } from './graph.js';
import { backward, type BackwardOptions } from './autograd.js';

export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
}

let liveTensors = 0;
let liveBytes = 0;
let nextTensorId = 1;

export function memoryCounters(): { tensors: number; bytes: number } {
  return { tensors: liveTensors, bytes: liveBytes };
}

export class Tensor {
  readonly isTensor = true;
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  readonly size: number;
  /** Set when this tensor was produced by a differentiable op with an input that requires gradients. */
  node: GradNode | null = null;
  /** Leaves with `requiresGrad` receive their gradient here after `backward()`. */
  grad: Tensor | null = null;
  requiresGrad = false;
  name?: string;
  private _storage: Storage | null;

  constructor(
    shape: Shape,
    readonly dtype: DType,
    storage: Storage,
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this._storage = storage;
    liveTensors++;
    liveBytes += this.size * 4;
    trackTensor(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this._storage === null;
  }

  /** The underlying buffer; throws a clear error after dispose. */
  buffer(op = 'use'): GPUBuffer {
    return this.storage(op).buffer;
  }

  storage(op = 'use'): Storage {
    if (!this._storage) {
      throw new Error(
        `${op}: tensor #${this.id}${this.name ? ` '${this.name}'` : ''} of shape ${fmt(this.shape)} was used after dispose()`,
      );
    }
    return this._storage;
  }

  /** Free the GPU memory (the buffer returns to the pool once submitted work that uses it is sent). */
  dispose(): void {
    const s = this._storage;
    if (!s) return;
    this._storage = null;
    liveTensors--;
    liveBytes -= this.size * 4;
    releaseNode(this.node);
    this.node = null;
    if (--s.refs === 0) runtime().pool.release(s.buffer);
  }

  /**
   * Backpropagate from this tensor (a scalar unless `seed` is given); see `backward`. For a scalar the options
   * may come first: `loss.backward({ retainGraph: true })`.
   */
  backward(seed?: Tensor | BackwardOptions, options?: BackwardOptions): void {
    if (seed instanceof Tensor || seed === undefined) backward(this, seed, options);
    else backward(this, undefined, seed);
  }

  /** Read the values back (flat, row-major). */
  async data(): Promise<AnyTypedArray> {
    const s = this.storage('data');
    if (this.size === 0) return typedArrayFor(this.dtype, 0);
    const bytes = await runtime().read(s.buffer, this.size * 4, 'data');
    if (this._storage === null) throw new Error(`data: tensor #${this.id} was disposed while its readback was in flight`);
    return typedArrayFor(this.dtype, bytes);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: expected a tensor with one element, got shape ${fmt(this.shape)}`);
    return (await this.data())[0]!;
  }

  /** Values as nested arrays matching the shape. */
  async array(): Promise<unknown> {
    const flat = Array.from(await this.data());
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return flat[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.isDisposed ? ', disposed' : ''})`;
  }
}

/** A new tensor with fresh (uninitialised) storage from the pool. */
export function emptyTensor(shape: Shape, dtype: DType, label = 'tensor'): Tensor {
  const bytes = Math.max(4, sizeOf(shape) * 4);
  const buffer = runtime().pool.acquire(bytes, undefined, label);
  return new Tensor(shape, dtype, new Storage(buffer, bytes));
}

/**
 * Zero-fill `t`'s whole storage (shared with its reshaped views), ordered after all GPU work recorded so far,
 * so that secrets (decrypted weights) do not outlive their use in a buffer the pool hands out again. Wipe
 * before `dispose()`: a released buffer is reused only after the submit that carries the zero-fill.
 */
export function wipeTensor(t: Tensor): void {
  runtime().clear(t.buffer('wipeTensor'));
}

/** A tensor that shares `source`'s storage under another shape (reshape). */
export function viewTensor(source: Tensor, shape: Shape): Tensor {
  const s = source.storage('reshape');
  s.refs++;
  return new Tensor(shape, source.dtype, s);
}
