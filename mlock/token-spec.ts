/** Turning a user's token choice (a secret key, or one of the paper's public patterns) into a token. */
import { deriveKeyedToken } from './keyed.js';
import { makeToken, PAPER_TOKEN_NAMES, type Placement, type Token } from './tokens.js';

export interface TokenSpec {
  /** A secret key (keyed token) — or null to use a paper pattern. */
  key: string | null;
  /** Paper pattern name when no key is given (default 'square'). */
  pattern?: string;
  /** Keyed token size (default 4). */
  size?: number;
  keyedColours?: boolean;
  placement?: 'fixed' | 'random';
}

export async function resolveToken(spec: TokenSpec, c: number, h: number, w: number): Promise<{ token: Token; placement: Placement }> {
  const placement: Placement = spec.placement === 'random' ? { mode: 'random' } : { mode: 'fixed', margin: 1 };
  if (spec.key !== null) {
    if (spec.key.length === 0) throw new Error('token: the key must not be empty');
    const { token } = await deriveKeyedToken(spec.key, { channels: c, size: spec.size ?? 4, keyedColours: spec.keyedColours ?? c === 3, H: h, W: w });
    return { token, placement };
  }
  const pattern = spec.pattern ?? 'square';
  if (!(PAPER_TOKEN_NAMES as readonly string[]).includes(pattern)) {
    throw new Error(`token: unknown pattern '${pattern}' (valid: ${PAPER_TOKEN_NAMES.join(', ')}), or pass --key for a keyed token`);
  }
  return { token: makeToken(pattern, c), placement };
}
