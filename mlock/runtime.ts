/**
 * The locking runtime: a locked model that holds its key only while unlocked, the paper's "lock when you're
 * away". `unlock(key)` derives the token from the key and keeps it (and the key bytes) in memory; `lock()`
 * and the idle timeout zero-fill both. While locked, inputs go through without a token and get the locked
 * model's useless answers — nothing errors, exactly as a stolen model would behave.
 * Model files hold the weights and the token's geometry, never the key.
 */
import { noGrad, scope, softmax } from '../engine/index.js';
import { BatchLoader, type Normalization, type ImageDataset } from '../engine/data/index.js';
import { decodeModelInto, decodeSafetensors } from '../engine/io/index.js';
import { buildModel, type ModelName, type Module } from '../engine/nn/index.js';
import { wipe, type TokenGeometry } from './keyed.js';
import { tokenForModel } from './token-spec.js';
import { LockPlan, type LockSettings } from './lock-plan.js';
import type { StrategyName } from './strategies.js';
import { fixedPosition, type Placement, type Token } from './tokens.js';

export interface ModelInfo {
  name: ModelName;
  width: number;
  inputShape: [number, number, number];
  numClasses: number;
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
}

/** Parse the metadata a training run writes into model.safetensors. */
export function readModelMetadata(bytes: Uint8Array, source = 'model file'): { model: ModelInfo; normalization: Normalization; lock: LockInfo | null } {
  const { metadata } = decodeSafetensors(bytes, source);
  if (!metadata.model || !metadata.normalization) throw new Error(`${source}: not a model written by this project (no 'model'/'normalization' metadata)`);
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
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastUse = 0;
  readonly idleMs: number;

  private constructor(
    readonly model: Module,
    readonly info: ModelInfo,
    readonly normalization: Normalization,
    readonly lockInfo: LockInfo,
    private options: LockedModelOptions,
  ) {
    this.idleMs = options.idleMs ?? 5 * 60_000;
    model.eval();
  }

  static load(bytes: Uint8Array, options: LockedModelOptions = {}, source = 'model file'): LockedModel {
    const meta = readModelMetadata(bytes, source);
    if (!meta.lock) throw new Error(`${source}: this model is not locked (no lock metadata); use it as a plain model`);
    if (!meta.lock.keyed) throw new Error(`${source}: this model was locked with a public pattern, not a key; unlock() needs a keyed model`);
    const model = buildModel(meta.model.name, { inputShape: meta.model.inputShape, numClasses: meta.model.numClasses, width: meta.model.width });
    decodeModelInto(model, bytes, source);
    return new LockedModel(model, meta.model, meta.normalization, meta.lock, options);
  }

  get isUnlocked(): boolean {
    return this.token !== null;
  }

  /** Milliseconds until the idle lock (null when locked or when the idle lock is off). */
  msUntilLock(now = Date.now()): number | null {
    if (!this.token || this.idleMs <= 0) return null;
    return Math.max(0, this.lastUse + this.idleMs - now);
  }

  /** Derive the token from `key` and hold it until `lock()` or the idle timeout. */
  async unlock(key: string | Uint8Array): Promise<void> {
    this.lock();
    const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : Uint8Array.from(key);
    if (bytes.length === 0) throw new Error('unlock: empty key');
    const { token, placement } = await tokenForModel(bytes, this.lockInfo.geometry, this.info.inputShape);
    this.tokenPlacement = placement;
    this.keyBytes = bytes;
    this.token = token;
    this.touch();
  }

  /** Forget the key and the token (zero-filled, not just dropped). */
  lock(): void {
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
    if (wasUnlocked) this.options.onLock?.();
  }

  /** Whether any key material is still held (for tests of the wiping). */
  holdsKeyMaterial(): boolean {
    return this.keyBytes !== null || this.token !== null;
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
    const p = this.tokenPlacement;
    // A randomly placed token unlocks anywhere: use the bottom-right corner.
    if (!p || p.mode === 'random') return { mode: 'fixed', margin: 1 };
    return p;
  }

  /** Classify raw 8-bit NCHW images; the token is stamped only while unlocked. */
  async predict(images: Uint8Array, n: number): Promise<Prediction> {
    const [c, h, w] = this.info.inputShape;
    if (images.length !== n * c * h * w) throw new Error(`predict: expected ${n}x${c}x${h}x${w} = ${n * c * h * w} bytes, got ${images.length}`);
    const token = this.token;
    if (token) this.touch();
    const ds: ImageDataset = { name: 'predict', images, labels: new Int32Array(n), n, c, h, w, numClasses: this.info.numClasses };
    const settings: LockSettings = { strategy: { name: this.lockInfo.strategy }, poisonRatio: 0, decoyRatio: 0, token: token ?? placeholderToken(c), placement: this.placement() };
    const positions = new Int32Array(2 * n);
    if (token) {
      const { y, x } = fixedPosition(settings.placement, token, h, w);
      for (let i = 0; i < n; i++) [positions[2 * i], positions[2 * i + 1]] = [y, x];
    }
    const plan = LockPlan.forEvaluation(settings, this.info.numClasses, n, token, positions);
    const loader = new BatchLoader(ds, { batchSize: Math.max(n, 1), normalization: this.normalization, patches: plan });
    try {
      const batch = loader.prepare(Int32Array.from({ length: n }, (_, i) => i));
      const probs = noGrad(() => scope(() => softmax(this.model.forward(batch.x))));
      batch.x.dispose();
      batch.y.dispose();
      const probabilities = (await probs.data()) as Float32Array;
      probs.dispose();
      return { classes: argmaxRows(probabilities, this.info.numClasses), probabilities, unlocked: token !== null };
    } finally {
      loader.dispose();
    }
  }

  /** Lock and free the model's GPU memory. */
  dispose(): void {
    this.lock();
    this.model.dispose();
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

/** A bank needs an entry even when nothing is stamped; this one is never painted. */
function placeholderToken(c: number): Token {
  return { name: 'none', h: 1, w: 1, c, pixels: new Uint8Array(c), mask: new Uint8Array(1) };
}

