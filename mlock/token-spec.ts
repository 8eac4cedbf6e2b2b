/**
 * Turning a user's token choice (a secret key, or one of the paper's public patterns) into a token and a
 * placement, at training time (`resolveToken`) and again when a saved model is opened (`tokenForModel`),
 * both through the same derivation so they cannot disagree.
 */
import { DEFAULT_LEVELS, deriveKeyedToken, keySpaceBits, validatePlaces, type TokenGeometry } from './keyed.js';
import { quietPlaces, type PlaceImages } from './quiet-places.js';
import { makeToken, PAPER_TOKEN_NAMES, type Place, type Placement, type Token } from './tokens.js';

/**
 * 'keyed': the position is derived from the key (secret), among the training set's quiet places when the
 * training images are given (quiet-places.ts), else anywhere; 'fixed' / 'random': the paper's public placements.
 */
export type PlacementChoice = 'keyed' | 'fixed' | 'random';

export interface TokenSpec {
  /** A secret key (keyed token) — or null to use a paper pattern. */
  key: string | null;
  /** Paper pattern name when no key is given (default 'square'). */
  pattern?: string;
  /** Keyed token size in cells (default: defaultTokenSize for the image). */
  size?: number;
  /** Values per channel of a keyed token (default 2: black and white). */
  levels?: number;
  /** Default 'keyed' for keyed tokens, 'fixed' for patterns. */
  placement?: PlacementChoice;
}

export interface ResolvedToken {
  token: Token;
  placement: Placement;
  /** Levels of a keyed token (stored in the geometry); undefined for paper patterns. */
  levels?: number;
  /** Bits of the key space the token was drawn from (0 for a public pattern). */
  keySpaceBits: number;
}

/**
 * The default patch size: at least 64 bits of cells whatever the place adds. 8x8 black-and-white cells on
 * greyscale images (64 bits + 8.5 of position on 28x28; the MLP's measurements are in docs/threat-model.md),
 * 5x5 cells of 8 colours on RGB images (75 bits + 9.4 of position on 32x32; not yet measured on the CNNs).
 */
export function defaultTokenSize(c: number): number {
  return c === 1 ? 8 : 5;
}

/** `train`: the training images, whose quiet places a keyed position is drawn from (anywhere without them). */
export async function resolveToken(spec: TokenSpec, c: number, h: number, w: number, train?: PlaceImages): Promise<ResolvedToken> {
  if (spec.key !== null) {
    if (spec.key.length === 0) throw new Error('token: the key must not be empty');
    const choice = spec.placement ?? 'keyed';
    const size = spec.size ?? defaultTokenSize(c);
    const levels = spec.levels ?? DEFAULT_LEVELS;
    const keyedPosition = choice === 'keyed';
    const places = keyedPosition && train ? quietPlaces(train, size) : undefined;
    const keyed = await deriveKeyedToken(spec.key, { channels: c, size, levels, keyedPosition, places, H: h, W: w });
    const bits = keySpaceBits({ size, channels: c, levels, keyedPosition, places: places?.length, H: h, W: w });
    return { token: keyed.token, placement: publicOr(choice, keyed.position, places), levels, keySpaceBits: bits };
  }
  const pattern = spec.pattern ?? 'square';
  if (!(PAPER_TOKEN_NAMES as readonly string[]).includes(pattern)) {
    throw new Error(`token: unknown pattern '${pattern}' (valid: ${PAPER_TOKEN_NAMES.join(', ')}), or pass --key for a keyed token`);
  }
  if (spec.placement === 'keyed')
    throw new Error("token: placement 'keyed' needs a key (--key); a paper pattern is placed 'fixed' or 'random'");
  return { token: makeToken(pattern, c), placement: publicOr(spec.placement ?? 'fixed', undefined), keySpaceBits: 0 };
}

/** The token of a saved keyed model, from its stored geometry and the key. */
export async function tokenForModel(
  key: string | Uint8Array,
  geometry: TokenGeometry,
  inputShape: readonly [number, number, number],
): Promise<ResolvedToken> {
  const [c, h, w] = inputShape;
  if (geometry.version !== 2) {
    throw new Error(
      `token geometry version ${String(geometry.version)} is not supported (this build derives version-2 tokens); retrain the model`,
    );
  }
  if (geometry.c !== c) throw new Error(`the model's token has ${geometry.c} channels but its inputs have ${c}`);
  const levels = geometry.levels ?? DEFAULT_LEVELS;
  const keyedPosition = geometry.placement.mode === 'secret';
  const places = geometry.placement.mode === 'secret' ? geometry.placement.places : undefined;
  if (places !== undefined) validatePlaces(places, geometry.h, h, w, "the model's token geometry");
  const keyed = await deriveKeyedToken(key, { channels: c, size: geometry.h, levels, keyedPosition, places, H: h, W: w });
  const placement: Placement = keyedPosition
    ? publicOr('keyed', keyed.position, places)
    : geometry.placement.mode === 'fixed'
      ? { mode: 'fixed', margin: geometry.placement.margin }
      : { mode: 'random' };
  return {
    token: keyed.token,
    placement,
    levels,
    keySpaceBits: keySpaceBits({ size: geometry.h, channels: c, levels, keyedPosition, places: places?.length, H: h, W: w }),
  };
}

function publicOr(choice: PlacementChoice, position: { y: number; x: number } | undefined, among?: readonly Place[]): Placement {
  if (choice === 'keyed') return among ? { mode: 'at', ...position!, among } : { mode: 'at', ...position! };
  if (choice === 'random') return { mode: 'random' };
  if (choice === 'fixed') return { mode: 'fixed', margin: 1 };
  throw new Error(`token: unknown placement '${String(choice)}' (valid: keyed, fixed, random)`);
}
