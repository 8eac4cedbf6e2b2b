/**
 * The token, derived a second time only so the page can draw it on the input when asked. `LockedModel` keeps
 * its own copy private (it stamps it on the GPU); this copy follows the same derivation and placement as
 * `LockedModel.unlock` and `LockedModel.predict`, and is zero-filled whenever the model locks.
 */
import { fixedPosition, stampCpu, stampPlacement, tokenForModel, wipe, type LockedModel, type Token } from '../mlock/index.js';

export interface PlacedToken {
  token: Token;
  y: number;
  x: number;
}

export async function deriveDisplayToken(model: LockedModel, key: string): Promise<PlacedToken> {
  const [, h, w] = model.info.inputShape;
  const { token, placement } = await tokenForModel(key, model.lockInfo.geometry, model.info.inputShape);
  // Where LockedModel stamps it.
  const { y, x } = fixedPosition(stampPlacement(placement), token, h, w);
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
