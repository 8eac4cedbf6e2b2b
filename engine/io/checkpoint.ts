/**
 * Model and training checkpoints in safetensors. Model tensors keep their state-dict names (so a PyTorch
 * model of the same structure loads them); a training checkpoint adds the optimizer's state tensors under
 * `optimizer.<param index>.<slot>` and, in the `__metadata__` map, the schedule position and every RNG state
 * as JSON, so resuming reproduces an uninterrupted run.
 *
 * Loading refuses float tensors holding NaN or infinity (a diverged or corrupt run would otherwise load
 * silently and only show up as wrong numbers later), naming the tensor, unless the caller opts in.
 */
import { runtime } from '../context.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import { Dropout } from '../nn/layers.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { RngState } from '../random.js';
import { decodeSafetensors, encodeSafetensors, type TensorEntry } from './safetensors.js';

const DTYPE_TO_ST = { f32: 'F32', i32: 'I32', u32: 'U32' } as const;

async function entries(named: Iterable<[string, Tensor]>): Promise<Record<string, TensorEntry>> {
  const out: Record<string, TensorEntry> = {};
  for (const [name, t] of named) out[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: [...t.shape], data: await t.data() };
  return out;
}

export interface LoadOptions {
  /** Load float tensors that hold NaN or infinity instead of refusing them. Default false. */
  allowNonFinite?: boolean;
}

/** Throws, naming the tensor, when float data holds a NaN or an infinity. */
export function checkFinite(source: string, name: string, data: Float32Array | Float64Array): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    throw new Error(
      `${source}: tensor '${name}' holds ${bad} non-finite value${bad === 1 ? '' : 's'} (the first, ${data[first]}, at flat index ${first}); ` +
        'refusing to load it (pass { allowNonFinite: true } to load it anyway)',
    );
  }
}

function toTensor(
  name: string,
  d: { dtype: string; shape: number[]; data: ArrayBufferView },
  source: string,
  options: LoadOptions,
): Tensor {
  if ((d.dtype === 'F32' || d.dtype === 'F64') && !options.allowNonFinite) checkFinite(source, name, d.data as Float32Array | Float64Array);
  if (d.dtype === 'F32') return tensor(d.data as Float32Array, d.shape);
  if (d.dtype === 'I32') return tensor(d.data as Int32Array, d.shape, 'i32');
  if (d.dtype === 'U32') return tensor(d.data as Uint32Array, d.shape, 'u32');
  if (d.dtype === 'F64') return tensor(Float32Array.from(d.data as Float64Array), d.shape);
  throw new Error(`checkpoint: tensor '${name}' has dtype ${d.dtype}; this engine reads F32, F64, I32 and U32`);
}

/** Serialise a model's parameters and buffers. */
export async function encodeModel(model: Module, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors(await entries(model.stateDict()), metadata);
}

/**
 * Load parameters and buffers into `model` (names and shapes must match; non-finite values are refused unless
 * `allowNonFinite`). Returns the file's metadata. Weights may be secret (a decrypted locked model): the decoded
 * host copies and the temporary GPU tensors they were uploaded through are zero-filled before they are let go,
 * so only the model's own tensors hold them.
 */
export function decodeModelInto(
  model: Module,
  bytes: Uint8Array,
  source = 'model file',
  options: LoadOptions = {},
): Record<string, string> {
  const file = decodeSafetensors(bytes, source);
  const state = new Map<string, Tensor>();
  // loadStateDict copies each temporary into the model and disposes it; its buffer is reusable only after the
  // next submit, so a zero-fill recorded now (after the copies, in the same batch) lands before any reuse.
  const temporaries: GPUBuffer[] = [];
  try {
    for (const [name, d] of file.tensors) {
      if (name.startsWith('optimizer.')) continue;
      const t = toTensor(name, d, source, options);
      state.set(name, t);
      temporaries.push(t.buffer('decodeModelInto'));
    }
    model.loadStateDict(state);
  } catch (e) {
    for (const t of state.values()) if (!t.isDisposed) t.dispose();
    const message = (e as Error).message;
    throw new Error(message.startsWith(`${source}: `) ? message : `${source}: ${message}`, { cause: e });
  } finally {
    for (const b of temporaries) runtime().clear(b);
    for (const d of file.tensors.values()) wipeHost(d.data);
  }
  return file.metadata;
}

function wipeHost(data: ArrayBufferView): void {
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).fill(0);
}

export interface TrainingPosition {
  /** Epoch to continue from and batch inside it. */
  epoch: number;
  batch: number;
  /** RNG state of the run's main stream at that position. */
  rng: RngState;
  /** Anything else the caller wants restored (history, config). */
  extra?: unknown;
}

const STATE_KEY = 'training_state';

function dropoutLayers(model: Module): [string, Dropout][] {
  return model.namedModules().filter((e): e is [string, Dropout] => e[1] instanceof Dropout);
}

export async function encodeTrainingCheckpoint(
  model: Module,
  optimizer: Optimizer,
  position: TrainingPosition,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const opt = optimizer.stateDict();
  const named: [string, Tensor][] = [
    ...model.stateDict(),
    ...Object.entries(opt.tensors).map(([k, t]) => [`optimizer.${k}`, t] as [string, Tensor]),
  ];
  const state = {
    ...position,
    optimizer: { step: opt.step, lr: opt.lr },
    dropout: Object.fromEntries(dropoutLayers(model).map(([name, d]) => [name, d.rngState])),
  };
  return encodeSafetensors(await entries(named), { ...metadata, [STATE_KEY]: JSON.stringify(state) });
}

export function decodeTrainingCheckpoint(
  model: Module,
  optimizer: Optimizer,
  bytes: Uint8Array,
  source = 'checkpoint',
  options: LoadOptions = {},
): TrainingPosition & { metadata: Record<string, string> } {
  const file = decodeSafetensors(bytes, source);
  const raw = file.metadata[STATE_KEY];
  if (!raw) throw new Error(`${source}: not a training checkpoint (no '${STATE_KEY}' metadata); use it as model weights instead`);
  const state = JSON.parse(raw) as TrainingPosition & { optimizer: { step: number; lr: number }; dropout: Record<string, RngState> };
  // The optimizer's state is checked before the model is touched, so a refused file changes nothing.
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, d] of file.tensors)
      if (name.startsWith('optimizer.')) tensors[name.slice('optimizer.'.length)] = toTensor(name, d, source, options);
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
  try {
    decodeModelInto(model, bytes, source, options);
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
  optimizer.loadStateDict({ step: state.optimizer.step, lr: state.optimizer.lr, tensors });
  for (const [name, d] of dropoutLayers(model)) if (state.dropout[name]) d.rngState = state.dropout[name]!;
  for (const d of file.tensors.values()) wipeHost(d.data);
  return { epoch: state.epoch, batch: state.batch, rng: state.rng, extra: state.extra, metadata: file.metadata };
}
