/**
 * Model and training checkpoints in safetensors. Model tensors keep their state-dict names (so a PyTorch
 * model of the same structure loads them); a training checkpoint adds the optimizer's state tensors under
 * `optimizer.<param index>.<slot>` and, in the `__metadata__` map, the schedule position and every RNG state
 * as JSON, so resuming reproduces an uninterrupted run.
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

function toTensor(name: string, d: { dtype: string; shape: number[]; data: ArrayBufferView }): Tensor {
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
 * Load parameters and buffers into `model` (names and shapes must match). Returns the file's metadata.
 * Weights may be secret (a decrypted locked model): the decoded host copies and the temporary GPU tensors they
 * were uploaded through are zero-filled before they are let go, so only the model's own tensors hold them.
 */
export function decodeModelInto(model: Module, bytes: Uint8Array, source = 'model file'): Record<string, string> {
  const file = decodeSafetensors(bytes, source);
  const state = new Map<string, Tensor>();
  for (const [name, d] of file.tensors) {
    if (!name.startsWith('optimizer.')) state.set(name, toTensor(name, d));
  }
  // loadStateDict copies each temporary into the model and disposes it; its buffer is reusable only after the
  // next submit, so a zero-fill recorded now (after the copies, in the same batch) lands before any reuse.
  const temporaries = [...state.values()].map((t) => t.buffer('decodeModelInto'));
  try {
    model.loadStateDict(state);
  } catch (e) {
    for (const t of state.values()) if (!t.isDisposed) t.dispose();
    throw new Error(`${source}: ${(e as Error).message}`);
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

export async function encodeTrainingCheckpoint(model: Module, optimizer: Optimizer, position: TrainingPosition, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const opt = optimizer.stateDict();
  const named: [string, Tensor][] = [...model.stateDict(), ...Object.entries(opt.tensors).map(([k, t]) => [`optimizer.${k}`, t] as [string, Tensor])];
  const state = {
    ...position,
    optimizer: { step: opt.step, lr: opt.lr },
    dropout: Object.fromEntries(dropoutLayers(model).map(([name, d]) => [name, d.rngState])),
  };
  return encodeSafetensors(await entries(named), { ...metadata, [STATE_KEY]: JSON.stringify(state) });
}

export function decodeTrainingCheckpoint(model: Module, optimizer: Optimizer, bytes: Uint8Array, source = 'checkpoint'): TrainingPosition & { metadata: Record<string, string> } {
  const file = decodeSafetensors(bytes, source);
  const raw = file.metadata[STATE_KEY];
  if (!raw) throw new Error(`${source}: not a training checkpoint (no '${STATE_KEY}' metadata); use it as model weights instead`);
  const state = JSON.parse(raw) as TrainingPosition & { optimizer: { step: number; lr: number }; dropout: Record<string, RngState> };
  decodeModelInto(model, bytes, source);
  const tensors: Record<string, Tensor> = {};
  for (const [name, d] of file.tensors) if (name.startsWith('optimizer.')) tensors[name.slice('optimizer.'.length)] = toTensor(name, d);
  optimizer.loadStateDict({ step: state.optimizer.step, lr: state.optimizer.lr, tensors });
  for (const [name, d] of dropoutLayers(model)) if (state.dropout[name]) d.rngState = state.dropout[name]!;
  for (const d of file.tensors.values()) wipeHost(d.data);
  return { epoch: state.epoch, batch: state.batch, rng: state.rng, extra: state.extra, metadata: file.metadata };
}
