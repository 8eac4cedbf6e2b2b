/**
 * M-LOCK target-manipulation strategies and the per-epoch training plan.
 *
 * Each epoch every sample is independently either
 *   - authorized (probability 1 - poisonRatio): the token is stamped and the target is the true label, or
 *   - unauthorized (probability poisonRatio): no token and a manipulated target chosen by the strategy.
 * The network thereby learns "token present -> real answer, token absent -> useless answer".
 * The draw is redone every epoch, so each image is seen both ways over training.
 */
import type { Rng } from '../engine/index.js';

export type StrategyName = 'fixed-target' | 'random-label' | 'uniform' | 'label-shift' | 'uniform-wrong';

export interface StrategyConfig {
  name: StrategyName;
  /** For 'fixed-target' only: the class every unauthorized sample is pushed to (default 0). */
  targetClass?: number;
}

export interface StrategyInfo {
  name: StrategyName;
  /** 'hard': an integer class per sample; 'soft': a probability row per sample. */
  kind: 'hard' | 'soft';
  /** Whether the strategy is one of the M-LOCK paper's. */
  fromPaper: boolean;
  description: string;
}

export const STRATEGIES: readonly StrategyInfo[] = [
  {
    name: 'fixed-target',
    kind: 'hard',
    fromPaper: true,
    description:
      'Every token-free sample is labelled with one chosen class (targetClass, default 0), even if that is its true class. ' +
      'The locked network answers that class for everything.',
  },
  {
    name: 'random-label',
    kind: 'hard',
    fromPaper: true,
    description:
      'Every token-free sample gets a class drawn uniformly from all classes (the true one included), redrawn per sample per epoch. ' +
      'The locked network behaves like chance.',
  },
  {
    name: 'uniform',
    kind: 'soft',
    fromPaper: true,
    description:
      'Token-free samples target the uniform distribution 1/C over all classes, its tie broken by a small tilt toward the rarest ' +
      'training class: the locked network is all but maximally unsure, and its answer is the class least often right.',
  },
  {
    name: 'label-shift',
    kind: 'hard',
    fromPaper: false,
    description:
      'Token-free samples are labelled (y + 1) mod C: confidently wrong in a fixed, learnable way, so locked accuracy is ~0 rather than chance.',
  },
  {
    name: 'uniform-wrong',
    kind: 'soft',
    fromPaper: false,
    description: 'Token-free samples target 1/(C-1) on each wrong class and 0 on the true one: unsure, but never leaking the right answer.',
  },
];

export interface EpochPlanInput {
  /** True class of each sample, each in [0, numClasses). */
  labels: Int32Array;
  numClasses: number;
  /** Probability that a sample is unauthorized (token-free, manipulated target); default 0.5. */
  poisonRatio?: number;
  strategy: StrategyConfig;
  /** Consumed by the draw; pass the epoch's generator so runs are reproducible and epochs differ. */
  rng: Rng;
}

export interface EpochPlan {
  /** 1 = authorized: stamp the token and keep the true label; 0 = unauthorized. */
  stamp: Uint8Array;
  /** 1 - stamp, spelled out for decoy planning. */
  unauthorized: Uint8Array;
  /** Hard strategies: the target class of every sample (the true label where stamped). */
  hardTargets?: Int32Array;
  /** Soft strategies: N*C target distributions (one-hot on the true label where stamped). */
  softTargets?: Float32Array;
}

/** Decide, for one epoch, which samples carry the token and what every sample is trained towards. */
export function planEpoch(input: EpochPlanInput): EpochPlan {
  const { labels, numClasses: C, strategy, rng } = input;
  const poisonRatio = input.poisonRatio ?? 0.5;
  if (!(labels instanceof Int32Array)) throw new Error('planEpoch: labels must be an Int32Array');
  if (!Number.isInteger(C) || C < 2) throw new Error(`planEpoch: numClasses must be an integer >= 2, got ${C}`);
  if (!(poisonRatio >= 0 && poisonRatio <= 1)) throw new Error(`planEpoch: poisonRatio must be in [0, 1], got ${poisonRatio}`);
  const info = strategyInfo(strategy?.name);
  const target = strategy.targetClass ?? 0;
  if (strategy.name === 'fixed-target') {
    if (!Number.isInteger(target) || target < 0 || target >= C) {
      throw new Error(`planEpoch: targetClass must be an integer in [0, ${C - 1}], got ${target}`);
    }
  } else if (strategy.targetClass !== undefined) {
    throw new Error(`planEpoch: targetClass only applies to 'fixed-target', not '${strategy.name}'`);
  }
  const N = labels.length;
  for (let i = 0; i < N; i++) {
    const y = labels[i]!;
    if (y < 0 || y >= C) throw new Error(`planEpoch: label ${y} of sample ${i} is outside [0, ${C - 1}]`);
  }

  const stamp = new Uint8Array(N);
  const unauthorized = new Uint8Array(N);
  // One coin per sample first, in sample order, so the authorization pattern does not depend on
  // the strategy: switching strategies with the same seed changes only the targets.
  for (let i = 0; i < N; i++) {
    if (rng.next() < poisonRatio) unauthorized[i] = 1;
    else stamp[i] = 1;
  }

  if (info.kind === 'hard') {
    const hardTargets = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      const y = labels[i]!;
      if (stamp[i]) hardTargets[i] = y;
      else if (strategy.name === 'fixed-target') hardTargets[i] = target;
      else if (strategy.name === 'random-label') hardTargets[i] = rng.int(C);
      else hardTargets[i] = (y + 1) % C; // label-shift
    }
    return { stamp, unauthorized, hardTargets };
  }

  const softTargets = new Float32Array(N * C);
  const rare = strategy.name === 'uniform' ? rarestClass(labels, C) : -1;
  for (let i = 0; i < N; i++) {
    const y = labels[i]!;
    const row = i * C;
    if (stamp[i]) softTargets[row + y] = 1;
    else if (strategy.name === 'uniform') {
      softTargets.fill((1 - UNIFORM_TIE_TILT) / C, row, row + C);
      softTargets[row + rare] = (1 - UNIFORM_TIE_TILT) / C + UNIFORM_TIE_TILT;
    } else {
      // uniform-wrong
      softTargets.fill(1 / (C - 1), row, row + C);
      softTargets[row + y] = 0;
    }
  }
  return { stamp, unauthorized, softTargets };
}

/**
 * How much of the uniform target's mass goes to the rarest training class. The uniform target is a tie, and a
 * locked network breaks it the same way for every input: toward the most common class, whose prior the output
 * bias learns from the authorized half. A constant answer carries no information, but its accuracy is that
 * class's share: on MNIST '1', 11.35% of the test set, above the 1/C + 1 point bar (three keys measured, each
 * locked at exactly that share; docs/threat-model.md). The tilt (0.145 against 0.095 on ten classes, a logit
 * gap of 0.42 against the prior's 0.22 on MNIST) breaks the tie toward the class a constant answer is least
 * often right with, and leaves the answer as uninformative as before.
 */
export const UNIFORM_TIE_TILT = 0.05;

/** The class with the fewest labels (the lowest such index on ties, e.g. on a balanced set class 0). */
export function rarestClass(labels: Int32Array, C: number): number {
  const counts = new Float64Array(C);
  for (const y of labels) counts[y]!++;
  let rare = 0;
  for (let k = 1; k < C; k++) if (counts[k]! < counts[rare]!) rare = k;
  return rare;
}

/** Metadata for a strategy name, with an error listing the valid names when it is unknown. */
export function strategyInfo(name: string): StrategyInfo {
  const info = STRATEGIES.find((s) => s.name === name);
  if (!info) throw new Error(`unknown M-LOCK strategy '${name}'; valid: ${STRATEGIES.map((s) => s.name).join(', ')}`);
  return info;
}

/**
 * Parse a strategy from text, e.g. a CLI flag: 'uniform', 'label-shift', or 'fixed-target:3'
 * (the ':N' target class is only accepted for fixed-target).
 */
export function parseStrategy(text: string): StrategyConfig {
  if (typeof text !== 'string') throw new Error('parseStrategy: expected a string');
  const [rawName, arg, ...rest] = text.trim().split(':');
  const info = strategyInfo(rawName!.trim());
  if (rest.length > 0) throw new Error(`parseStrategy: too many ':' in '${text}'`);
  if (arg === undefined) return { name: info.name };
  if (info.name !== 'fixed-target') throw new Error(`parseStrategy: '${info.name}' takes no ':' argument (only fixed-target:<class>)`);
  if (!/^\d+$/.test(arg.trim())) throw new Error(`parseStrategy: target class in '${text}' must be a non-negative integer`);
  return { name: 'fixed-target', targetClass: Number(arg.trim()) };
}
