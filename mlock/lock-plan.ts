/**
 * The per-epoch plan of locked training, as the engine's batch loader consumes it: which samples carry the
 * real token (authorized, true label), which carry a decoy (unauthorized, manipulated target), which are clean
 * (unauthorized), and every sample's training target. Tokens are stamped on the GPU by the loader's fused
 * prepare kernel through a `PatchSource`; targets are uploaded per batch.
 */
import { Rng, tensor, type Tensor } from '../engine/index.js';
import type { Batch, PatchSource } from '../engine/data/index.js';
import { mergeRealStamps, packTokenBank, planDecoys, type TokenBank } from './decoys.js';
import type { DecoyShares } from './hard-kinds.js';
import type { NearMissKind } from './near-miss.js';
import { planEpoch, type StrategyConfig } from './strategies.js';
import { tokenPositions, type Placement, type Token } from './tokens.js';

export interface LockSettings {
  strategy: StrategyConfig;
  /** Probability that a training sample is unauthorized in an epoch (paper default 0.5). */
  poisonRatio: number;
  /** Share of unauthorized samples that carry a decoy token (0 = the paper's scheme). */
  decoyRatio: number;
  /** Grey levels of a keyed token (decoys with changed cells use them); undefined for paper patterns. */
  levels?: number;
  /** The mix of near-miss kinds decoys are drawn from (default DECOY_MIX). */
  decoyMix?: Readonly<Record<NearMissKind, number>>;
  /**
   * Per-cell weights for changed-cell decoys: training sets them each epoch from how well the network still
   * answers with each cell of the real token changed (hard-cell mining), so the cells it ignores are drilled.
   */
  cellWeights?: ArrayLike<number>;
  /**
   * This epoch's split of the unauthorized samples between clean inputs and decoy kinds: training sets it each
   * epoch from which kinds of forgery still open the network (forgery-kind mining, hard-kinds.ts). The base
   * decoyRatio and decoyMix when absent.
   */
  shares?: DecoyShares;
  /**
   * What shows through the token's place on a typical training image (placeBackground in near-miss.ts): covers
   * that would look like the real token there are not used as decoys, and the audit bounds covers by it.
   */
  background?: Uint8Array;
  token: Token;
  placement: Placement;
}

export class LockPlan implements PatchSource {
  bank: Uint8Array;
  maxH: number;
  maxW: number;
  stride: number;
  private tokenIndex: Int16Array;
  private positions: Int32Array;
  private hard: Int32Array | null = null;
  private soft: Float32Array | null = null;
  private stamp: Uint8Array;

  private constructor(
    readonly settings: LockSettings,
    readonly numClasses: number,
    packed: TokenBank,
    plan: { tokenIndex: Int16Array; positions: Int32Array; stamp: Uint8Array; hard?: Int32Array; soft?: Float32Array },
  ) {
    this.bank = packed.data;
    this.maxH = packed.maxH;
    this.maxW = packed.maxW;
    this.stride = packed.stride;
    this.tokenIndex = plan.tokenIndex;
    this.positions = plan.positions;
    this.stamp = plan.stamp;
    this.hard = plan.hard ?? null;
    this.soft = plan.soft ?? null;
  }

  /** Plan one epoch of locked training over a dataset with these labels. */
  static forEpoch(settings: LockSettings, labels: Int32Array, numClasses: number, h: number, w: number, rng: Rng): LockPlan {
    const epochPlan = planEpoch({ labels, numClasses, poisonRatio: settings.poisonRatio, strategy: settings.strategy, rng });
    const n = labels.length;
    const realPositions = tokenPositions(settings.placement, settings.token, n, h, w, rng);
    let bankTokens: Token[] = [settings.token];
    let decoy: { decoyIndex: Int16Array; positions: Int32Array } = {
      decoyIndex: new Int16Array(n).fill(-1),
      positions: new Int32Array(2 * n).fill(-1),
    };
    const shares = settings.shares ?? { decoyRatio: settings.decoyRatio, mix: settings.decoyMix };
    if (shares.decoyRatio > 0) {
      const plan = planDecoys({
        unauthorized: epochPlan.unauthorized,
        decoyRatio: shares.decoyRatio,
        realToken: settings.token,
        placement: settings.placement,
        levels: settings.levels,
        mix: shares.mix,
        cellWeights: settings.cellWeights,
        background: settings.background,
        H: h,
        W: w,
        rng,
      });
      decoy = plan;
      bankTokens = plan.bank;
    }
    const realIndex = 0;
    const merged = mergeRealStamps(decoy, epochPlan.stamp, realIndex, realPositions);
    return new LockPlan(settings, numClasses, packTokenBank(bankTokens), {
      tokenIndex: merged.tokenIndex,
      positions: merged.positions,
      stamp: epochPlan.stamp,
      hard: epochPlan.hardTargets,
      soft: epochPlan.softTargets,
    });
  }

  /** A fixed evaluation plan: every sample gets `token` (or nothing when null) at the given positions. */
  static forEvaluation(settings: LockSettings, numClasses: number, n: number, token: Token | null, positions: Int32Array): LockPlan {
    const bankToken = token ?? settings.token;
    return new LockPlan(settings, numClasses, packTokenBank([bankToken]), {
      tokenIndex: new Int16Array(n).fill(token ? 0 : -1),
      positions,
      stamp: new Uint8Array(n).fill(token ? 1 : 0),
    });
  }

  choose(indices: Int32Array): Int32Array {
    const out = new Int32Array(3 * indices.length);
    indices.forEach((s, i) => {
      out[3 * i] = this.tokenIndex[s]!;
      out[3 * i + 1] = this.positions[2 * s]!;
      out[3 * i + 2] = this.positions[2 * s + 1]!;
    });
    return out;
  }

  /** The training target of a batch: i32 labels for hard strategies, f32 [n, C] rows for soft ones. */
  targets(batch: Batch): Tensor {
    const n = batch.indices.length;
    const C = this.numClasses;
    if (this.hard)
      return tensor(
        Int32Array.from(batch.indices, (s) => this.hard![s]!),
        [n],
        'i32',
      );
    if (this.soft) {
      const rows = new Float32Array(n * C);
      batch.indices.forEach((s, i) => rows.set(this.soft!.subarray(s * C, (s + 1) * C), i * C));
      return tensor(rows, [n, C]);
    }
    return batch.y;
  }

  /** Fraction of samples stamped with the real token this epoch. */
  authorizedShare(): number {
    let k = 0;
    for (const s of this.stamp) k += s;
    return k / Math.max(this.stamp.length, 1);
  }
}

/** Where the real token goes for every sample of an evaluation set (fixed corner, or seeded random spots). */
export function evaluationPositions(settings: LockSettings, n: number, h: number, w: number, seed: number): Int32Array {
  return tokenPositions(settings.placement, settings.token, n, h, w, new Rng(seed));
}
