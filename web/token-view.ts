/**
 * The token, derived a second time only so the page can draw it on the input when asked. `LockedModel` keeps
 * its own copy private (it stamps it on the GPU); this copy follows the same derivation and placement as
 * `LockedModel.unlock` and `LockedModel.predict`, and is zero-filled whenever the model locks.
 */
import { fixedPosition, stampCpu, tokenForModel, wipe, type LockedModel, type Token } from '../mlock/index.js';

export interface PlacedToken {
  token: Token;
  y: number;
  x: number;
}

export async function deriveDisplayToken(model: LockedModel, key: string): Promise<PlacedToken> {
  const [, h, w] = model.info.inputShape;
  const { token, placement } = await tokenForModel(key, model.lockInfo.geometry, model.info.inputShape);
  // As in LockedModel: a randomly placed token unlocks anywhere, and the runtime puts it bottom-right.
  const { y, x } = fixedPosition(placement.mode === 'random' ? { mode: 'fixed', margin: 1 } : placement, token, h, w);
  return { token, y, x };
}

/** A copy of one CHW image with the token painted on. */
export function stampToken(image: Uint8Array, placed: PlacedToken, c: number, h: number, w: number): Uint8Array {
  return stampCpu(image, 1, c, h, w, placed.token, Int32Array.of(placed.y, placed.x));
}

export function wipeDisplayToken(placed: PlacedToken): void {
  wipe(placed.token.pixels);
  wipe(placed.token.mask);
}
