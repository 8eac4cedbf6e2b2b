/**
 * The recorded graph. An op is defined once, with `defineOp`: its name, the types of its attributes and of the
 * tensors it saves for backward, and its gradient rule. An op that sees an input requiring gradients records a
 * `GradNode` on its output, pointing at the op's definition itself, so a misspelt op or a missing rule is a
 * compile error rather than a failure at backward time.
 *
 * The tensors a node saves (row statistics, argmax indices, views of index or target tensors) belong to the
 * node: they leave every scope when recorded and are freed when backward releases the node, or when the
 * output is disposed without backward. Without a node to own them (gradients off), `record` frees them at once.
 *
 * This module imports no values but `keep` (from scope.ts, which imports none), so any module may import it
 * without creating an import cycle.
 */
import { keep } from './scope.js';
import type { Tensor } from './tensor.js';

/** Tensors an op saves for its gradient (null for those it did not need this time). */
export type Saved = Readonly<Record<string, Tensor | null>>;

export interface GradNode<A = unknown, S extends Saved = Saved> {
  op: OpDef<A, S>;
  inputs: readonly Tensor[];
  attrs: A;
  saved: S;
}

/**
 * A local rule: given dL/d(output), dL/d(input) for each recorded input, in order (null where an input gets no
 * gradient). It runs without recording, inside a scope that frees its temporaries.
 */
export type GradRule<A, S extends Saved> = (g: Tensor, node: GradNode<A, S>, output: Tensor) => (Tensor | null)[];

export interface OpDef<A = unknown, S extends Saved = Saved> {
  readonly name: string;
  readonly grad: GradRule<A, S>;
  /**
   * Attach a node to `out` when gradients are on and some input requires them; the saved tensors then belong
   * to that node. Otherwise they are disposed here. Returns `out`.
   */
  record(out: Tensor, inputs: readonly Tensor[], attrs: A, saved: S): Tensor;
}

/** Define an op: its name and gradient rule; `A` and `S` type the attributes and saved tensors its nodes carry. */
export function defineOp<A = Record<string, never>, S extends Saved = Record<string, never>>(def: {
  name: string;
  grad: GradRule<A, S>;
}): OpDef<A, S> {
  const op: OpDef<A, S> = {
    name: def.name,
    grad: def.grad,
    record(out, inputs, attrs, saved) {
      const owned = Object.values(saved).filter((t): t is Tensor => t !== null);
      if (gradDisabled === 0 && inputs.some((t) => t.requiresGrad)) {
        const node: GradNode<A, S> = { op, inputs, attrs, saved };
        // The tensor holds nodes of every op, their types erased; the node's own rule is typed by its op.
        out.node = node;
        out.requiresGrad = true;
        for (const t of owned) keep(t);
      } else {
        for (const t of owned) t.dispose();
      }
      return out;
    },
  };
  return op;
}

/** Free what a node saved (backward released it, or its output was disposed). */
export function releaseNode(node: GradNode | null): void {
  if (!node) return;
  for (const t of Object.values(node.saved)) t?.dispose();
}

let gradDisabled = 0;

export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/** Run `fn` without recording graph nodes (inference, optimizer updates). Works with async functions. */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradDisabled--;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      gradDisabled--;
    }) as T;
  }
  gradDisabled--;
  return result;
}
