/**
 * The `mlock-webgpu/mlock` entry point (platform-neutral): locked models that answer correctly only with the
 * token derived from a key, the paper's token patterns, keyed tokens and the locking strategies. Training a
 * locked model from the command line is the CLI's job (`mlock/cli.ts`), not the package's.
 */
export { LockedModel, readModelMetadata, type ModelInfo, type LockInfo, type Prediction, type LockedModelOptions } from './runtime.js';
export {
  makeToken,
  fromCells,
  validateToken,
  tokensEqual,
  fixedPosition,
  tokenPositions,
  stampPlacement,
  stampCpu,
  PAPER_TOKEN_NAMES,
  DEFAULT_MARGIN,
  type Token,
  type PaperTokenName,
  type Placement,
  type Place,
} from './tokens.js';
export { quietPlaces, QUIET_SHARE } from './quiet-places.js';
export {
  deriveKeyedToken,
  keySpaceBits,
  placeCount,
  validatePlaces,
  levelValue,
  tokenFingerprint,
  tokenGeometry,
  wipe,
  type KeyedToken,
  type KeyedTokenOptions,
  type TokenGeometry,
  type SavedPlacement,
} from './keyed.js';
export {
  STRATEGIES,
  parseStrategy,
  strategyInfo,
  planEpoch,
  type StrategyName,
  type StrategyConfig,
  type StrategyInfo,
  type EpochPlan,
  type EpochPlanInput,
} from './strategies.js';
export { LockPlan, type LockSettings } from './lock-plan.js';
export { authorizedAccuracy, unauthorizedAccuracy, type EvalSetup } from './evaluate.js';
export { auditLock, auditMarkdown, type AuditOptions, type AuditReport, type ForgeryGroup, type QueryClimbReport } from './audit.js';
export {
  climb,
  climbCost,
  trueLabelProbabilities,
  CLIMB_STEPS,
  type Climb,
  type ClimbSetup,
  type ClimbCost,
  type ClimbCostInput,
} from './query-attack.js';
export { estimateGuesses, type GuessEstimate, type GuessInput, type DistanceCount } from './guess-estimate.js';
export { scoreStamps, type ScoreSetup } from './forgery-scores.js';
export {
  changeCells,
  coverPart,
  drawNearMiss,
  lookAlike,
  scaleBrightness,
  shifts,
  DECOY_MIX,
  type Stamp,
  type NearMissKind,
} from './near-miss.js';
export { resolveToken, tokenForModel, defaultTokenSize, type TokenSpec, type ResolvedToken, type PlacementChoice } from './token-spec.js';
export {
  sealModel,
  openSealed,
  plainModelBytes,
  isSealed,
  readSealed,
  ModelSealer,
  WrongPassphraseError,
  MIN_ITERATIONS,
  type KdfOptions,
  type SealedFile,
} from './sealed-model.js';
