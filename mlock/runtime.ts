/**
 * The locking runtime: a locked model that holds its key, its token and its weights only while unlocked, the
 * paper's "lock when you're away" made to hold against someone at the device. The model file is sealed
 * (sealed-model.ts): `unlock(passphrase)` decrypts the weights onto the GPU and derives the token from the
 * same passphrase; `lock()` and the idle timeout zero-fill the key bytes, the token and every weight buffer
 * (on the GPU, in order after any pending work, before the buffers go back to the pool) and keep only the
 * ciphertext. While locked, predict() throws.
 *
 * `keepServingWhenLocked` is the paper's behaviour instead: lock() forgets the key and token but leaves the
 * decrypted weights on the GPU, so inputs keep getting (useless) token-free answers. Its weakness, measured by
 * this project's `attack` command: anyone who can read GPU memory gets the weights, and fine-tuning them on 100
 * clean images recovered 91.6% on MNIST (docs/threat-model.md, attacker (c)).
 */
import { noGrad, runtime, scope, softmax, wipeTensor } from '../engine/index.js';
import { BatchLoader, type Normalization, type ImageDataset } from '../engine/data/index.js';
import { decodeModelInto, decodeSafetensors } from '../engine/io/index.js';
import { buildModel, type ModelName, type Module } from '../engine/nn/index.js';
import { wipe, type TokenGeometry } from './keyed.js';
import { isSealed, openSealed, type KdfOptions } from './sealed-model.js';
import { tokenForModel } from './token-spec.js';
import { LockPlan, type LockSettings } from './lock-plan.js';
import type { StrategyName } from './strategies.js';
import { blankToken, fixedPosition, stampPlacement, type Placement, type Token } from './tokens.js';

export interface ModelInfo {
  name: ModelName;
  width: number;
  inputShape: [number, number, number];
  numClasses: number;
  /** MLP dropout it was built with: Dropout layers take places in the layer list, so the names depend on it. */
  dropout?: number;
}

export interface LockInfo {
  required: boolean;
  strategy: StrategyName;
  geometry: TokenGeometry;
  keyed: boolean;
  /** The public paper pattern of a pattern-locked model (written since the CLI's predict handles them). */
  pattern?: string;
}

export interface Prediction {
  /** Predicted class per image. */
  classes: Int32Array;
  /** Class probabilities, n*C. */
  probabilities: Float32Array;
  /** Whether the token was applied (the model was unlocked). */
  unlocked: boolean;
}

export interface LockedModelOptions {
  /** Lock automatically after this many milliseconds without a prediction (default 5 minutes; 0 = never). */
  idleMs?: number;
  onLock?: () => void;
  /**
   * The paper's behaviour: lock() wipes the key and the token but keeps the decrypted weights on the GPU and
   * keeps answering without the token. Weaker (see the file comment); off by default.
   */
  keepServingWhenLocked?: boolean;
  /** Tests only: accept files sealed with fewer PBKDF2 iterations than the minimum. */
  kdf?: Pick<KdfOptions, 'weakKdfForTests'>;
}

export interface PredictOptions {
  /** false: answer without the token even while unlocked (what anyone sending the same input gets). Default true. */
  withToken?: boolean;
}

/** Thrown by predict() while the model is locked (and its weights wiped). */
export class LockedError extends Error {
  override name = 'LockedError';
}

/** Parse the metadata a training run writes into model.safetensors. */
export function readModelMetadata(
  bytes: Uint8Array,
  source = 'model file',
): { model: ModelInfo; normalization: Normalization; lock: LockInfo | null } {
  const { metadata } = decodeSafetensors(bytes, source);
  if (!metadata.model || !metadata.normalization)
    throw new Error(`${source}: not a model written by this project (no 'model'/'normalization' metadata)`);
  return {
    model: JSON.parse(metadata.model) as ModelInfo,
    normalization: JSON.parse(metadata.normalization) as Normalization,
    lock: metadata.lock ? (JSON.parse(metadata.lock) as LockInfo) : null,
  };
}

export class LockedModel {
  private keyBytes: Uint8Array | null = null;
  private token: Token | null = null;
  private tokenPlacement: Placement | null = null;
  /** The decrypted model: present only while unlocked (or while locked with keepServingWhenLocked). */
  private model: Module | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastUse = 0;
  /** Bumped by every lock(): an unlock() that was in flight when it happened throws away what it decrypted. */
  private generation = 0;
  readonly idleMs: number;

  private constructor(
    /** The sealed file: ciphertext and public metadata only. */
    private readonly sealed: Uint8Array,
    readonly info: ModelInfo,
    readonly normalization: Normalization,
    readonly lockInfo: LockInfo,
    private readonly source: string,
    private readonly options: LockedModelOptions,
  ) {
    this.idleMs = options.idleMs ?? 5 * 60_000;
  }

  /** Open a sealed locked model file. Nothing is decrypted until unlock(). */
  static load(bytes: Uint8Array, options: LockedModelOptions = {}, source = 'model file'): LockedModel {
    const meta = readModelMetadata(bytes, source);
    if (!meta.lock) throw new Error(`${source}: this model is not locked (no lock metadata); use it as a plain model`);
    if (!meta.lock.keyed)
      throw new Error(`${source}: this model was locked with a public pattern, not a key; unlock() needs a keyed model`);
    if (!isSealed(bytes))
      throw new Error(`${source}: this locked model is not sealed (an unencrypted export); the runtime opens sealed files only`);
    return new LockedModel(bytes, meta.model, meta.normalization, meta.lock, source, options);
  }

  get isUnlocked(): boolean {
    return this.token !== null;
  }

  /** Milliseconds until the idle lock (null when locked or when the idle lock is off). */
  msUntilLock(now = Date.now()): number | null {
    if (!this.token || this.idleMs <= 0) return null;
    return Math.max(0, this.lastUse + this.idleMs - now);
  }

  /**
   * Decrypt the weights with `key` (the passphrase) and derive the token from it; both are held until lock()
   * or the idle timeout. A wrong passphrase throws "wrong passphrase, or the file was modified" and holds nothing.
   */
  async unlock(key: string | Uint8Array): Promise<void> {
    this.lock();
    const generation = this.generation;
    const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : Uint8Array.from(key);
    if (bytes.length === 0) throw new Error('unlock: empty key');
    this.keyBytes = bytes;
    try {
      const plain = await openSealed(this.sealed, bytes, { ...this.options.kdf, source: this.source });
      try {
        this.checkStillUnlocking(generation);
        this.disposeModel();
        const model = buildModel(this.info.name, {
          inputShape: this.info.inputShape,
          numClasses: this.info.numClasses,
          width: this.info.width,
          dropout: this.info.dropout,
        });
        this.model = model;
        decodeModelInto(model, plain, this.source);
        model.eval();
      } finally {
        wipe(plain);
      }
      const { token, placement } = await tokenForModel(bytes, this.lockInfo.geometry, this.info.inputShape);
      if (this.generation !== generation) {
        wipe(token.pixels);
        wipe(token.mask);
        this.checkStillUnlocking(generation);
      }
      this.tokenPlacement = placement;
      this.token = token;
    } catch (e) {
      if (this.generation === generation) this.lock();
      throw e;
    }
    this.touch();
  }

  private checkStillUnlocking(generation: number): void {
    if (this.generation !== generation) throw new LockedError('unlock: the model was locked while it was being unlocked');
  }

  /** Forget the key and the token and wipe the decrypted weights (all zero-filled, not just dropped). */
  lock(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const wasUnlocked = this.token !== null;
    if (this.keyBytes) wipe(this.keyBytes);
    if (this.token) {
      wipe(this.token.pixels);
      wipe(this.token.mask);
    }
    this.keyBytes = null;
    this.token = null;
    this.tokenPlacement = null;
    if (!this.options.keepServingWhenLocked) this.disposeModel();
    if (wasUnlocked) this.options.onLock?.();
  }

  /** Zero-fill every parameter and buffer on the GPU, then free them; the zero-fills are submitted now. */
  private disposeModel(): void {
    const model = this.model;
    if (!model) return;
    this.model = null;
    for (const t of model.stateDict().values()) wipeTensor(t);
    model.dispose();
    runtime().flush();
  }

  /** Whether any key material is still held (for tests of the wiping). */
  holdsKeyMaterial(): boolean {
    return this.keyBytes !== null || this.token !== null;
  }

  /** Whether decrypted weights are on the GPU (while unlocked, or locked with keepServingWhenLocked). */
  holdsWeights(): boolean {
    return this.model !== null;
  }

  private touch(): void {
    this.lastUse = Date.now();
    if (this.timer) clearTimeout(this.timer);
    if (this.idleMs > 0) {
      this.timer = setTimeout(() => this.lock(), this.idleMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  private placement(): Placement {
    return stampPlacement(this.tokenPlacement ?? { mode: 'random' });
  }

  /** Classify raw 8-bit NCHW images; the token is stamped only while unlocked. Throws while locked (weights wiped). */
  async predict(images: Uint8Array, n: number, options: PredictOptions = {}): Promise<Prediction> {
    const [c, h, w] = this.info.inputShape;
    if (images.length !== n * c * h * w)
      throw new Error(`predict: expected ${n}x${c}x${h}x${w} = ${n * c * h * w} bytes, got ${images.length}`);
    const model = this.model;
    if (!model) throw new LockedError('locked: unlock with the key/passphrase (the weights stay encrypted while the model is locked)');
    const token = options.withToken === false ? null : this.token;
    if (this.token) this.touch();
    const ds: ImageDataset = { name: 'predict', images, labels: new Int32Array(n), n, c, h, w, numClasses: this.info.numClasses };
    const settings: LockSettings = {
      strategy: { name: this.lockInfo.strategy },
      poisonRatio: 0,
      decoyRatio: 0,
      token: token ?? blankToken(c),
      placement: this.placement(),
    };
    const positions = new Int32Array(2 * n);
    if (token) {
      const { y, x } = fixedPosition(settings.placement, token, h, w);
      for (let i = 0; i < n; i++) [positions[2 * i], positions[2 * i + 1]] = [y, x];
    }
    const plan = LockPlan.forEvaluation(settings, this.info.numClasses, n, token, positions);
    const loader = new BatchLoader(ds, { batchSize: Math.max(n, 1), normalization: this.normalization, patches: plan });
    try {
      const batch = loader.prepare(Int32Array.from({ length: n }, (_, i) => i));
      const probs = noGrad(() => scope(() => softmax(model.forward(batch.x))));
      batch.x.dispose();
      batch.y.dispose();
      const probabilities = (await probs.data()) as Float32Array;
      probs.dispose();
      return { classes: argmaxRows(probabilities, this.info.numClasses), probabilities, unlocked: token !== null };
    } finally {
      loader.dispose();
    }
  }

  /** Lock and free the model's GPU memory (wiped, also with keepServingWhenLocked). */
  dispose(): void {
    this.lock();
    this.disposeModel();
  }
}

function argmaxRows(p: Float32Array, C: number): Int32Array {
  const n = p.length / C;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (p[i * C + k]! > p[i * C + best]!) best = k;
    out[i] = best;
  }
  return out;
}
