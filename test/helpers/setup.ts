/** Opens the engine once per test file (each file runs in its own worker on the software adapter). */
import { beforeAll } from 'vitest';
import * as E from '../../engine/node.js';

export function useEngine(): void {
  beforeAll(async () => {
    const rt = await E.initEngine();
    // Every dispatch's planned loop trip count is checked against the budget, and every looping kernel must declare one.
    rt.loopCheck = 'strict';
  });
}
