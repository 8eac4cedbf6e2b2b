/**
 * The loop budget of the kernel contract. Mesa's llvmpipe stops every loop of a shader invocation once the
 * invocation has run 65,535 iterations in total (all loops share the count) and says nothing: the kernel just
 * returns a partial result. So every kernel's iterations per invocation are bounded by construction, for any
 * input size, well under that cap: ops split long reductions across invocations and passes, and declare the
 * planned count on each dispatch (`Dispatch.trips`), which the runtime checks here.
 */
import type { Dispatch } from './program.js';

/** Loop iterations one invocation may run, all loops together (llvmpipe's silent cap is 65,535). */
export const LOOP_BUDGET = 16384;

/** How the runtime checks dispatches: 'strict' also refuses a looping kernel that declares no trip count. */
export type LoopCheck = 'off' | 'budget' | 'strict';

const LOOP = /\b(for|while)\s*\(|\bloop\s*\{/;

/** Whether WGSL source contains a loop. */
export function hasLoop(wgsl: string): boolean {
  return LOOP.test(wgsl);
}

/** Throws, naming the op, when a dispatch's planned trip count is over the budget (or missing, in 'strict'). */
export function checkTrips(d: Dispatch, looping: boolean, mode: LoopCheck): void {
  if (mode === 'off') return;
  const { name, key } = d.program;
  if (d.trips === undefined) {
    if (looping && mode === 'strict')
      throw new Error(`${name}: kernel ${key} has loops but its dispatch declares no trip count (loop budget ${LOOP_BUDGET})`);
    return;
  }
  if (!(d.trips <= LOOP_BUDGET)) {
    throw new Error(
      `${name}: planned ${d.trips} loop iterations per invocation exceed the loop budget of ${LOOP_BUDGET} (kernel ${key}); the op must split this work`,
    );
  }
}

/** Mesa's llvmpipe (and lavapipe, the same compiler) cap loops; other adapters are checked only on request. */
export function adapterCapsLoops(description: string): boolean {
  return /llvmpipe|lavapipe/i.test(description);
}
