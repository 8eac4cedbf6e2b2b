/**
 * Reverse-mode autodiff over a recorded graph (see graph.ts). `backward` orders the graph topologically, seeds
 * the output gradient with ones, and walks it in reverse applying each node's rule, that of the op that
 * recorded it. Gradients of tensors used twice accumulate; intermediate gradients are freed as soon as they
 * are consumed, and each node (with what it saved) as soon as its rule has run, unless `retainGraph`.
 */
import { noGrad, releaseNode } from './graph.js';
import { keep, scope } from './scope.js';
import { viewTensor, type Tensor } from './tensor.js';
import { add } from './ops/elementwise.js';
import { onesLike, zerosLike } from './ops/creation.js';

export interface BackwardOptions {
  /** Keep the graph (and what its nodes saved) for another backward through it. Default false. */
  retainGraph?: boolean;
}

/** Outputs whose node a backward() released (the op's name), so a second walk through them can be refused. */
const released = new WeakMap<Tensor, string>();

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep graphs (long training unrolls) must not overflow the JS stack.
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i === 0) {
      if (visited.has(t)) {
        stack.pop();
        continue;
      }
      visited.add(t);
    }
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (next.requiresGrad && !visited.has(next)) stack.push([next, 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Backpropagate from `output` (a scalar unless `seed` is given). Leaves with `requiresGrad` get `.grad`
 * (added to any gradient already there). The graph is released afterwards unless `retainGraph`.
 */
export function backward(output: Tensor, seed?: Tensor, options: BackwardOptions = {}): void {
  if (!output.requiresGrad) throw new Error(`backward: the output ${output} does not depend on any tensor with requiresGrad`);
  if (!seed && output.size !== 1)
    throw new Error(
      `backward: the output has shape [${output.shape.join(', ')}]; pass a seed gradient of that shape, or reduce it to a scalar`,
    );
  if (seed && (seed.shape.length !== output.shape.length || seed.shape.some((d, i) => d !== output.shape[i]))) {
    throw new Error(`backward: seed shape [${seed.shape.join(', ')}] does not match output shape [${output.shape.join(', ')}]`);
  }
  const order = topologicalOrder(output);
  // A produced tensor without its node would pass for a leaf and silently swallow its gradient: refuse first.
  for (const t of order) {
    if (t.isDisposed) throw new Error(`backward: ${t} (tensor #${t.id}) is part of the graph but was disposed before backward()`);
    const op = released.get(t);
    if (op !== undefined && !t.node) {
      throw new Error(
        `backward: the graph through '${op}' (${t}) was freed by an earlier backward(); pass { retainGraph: true } to the first call to walk it twice`,
      );
    }
  }
  const grads = new Map<Tensor, Tensor>();
  // Each gradient in the map is owned by backward (a caller's seed is wrapped in a view), so it can be freed.
  grads.set(output, seed ? viewTensor(seed, seed.shape) : onesLike(output));
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    const node = t.node;
    if (!node) {
      // A leaf: hand the gradient to the tensor, outliving any scope.
      if (t.grad) {
        const sum = add(t.grad, g);
        t.grad.dispose();
        g.dispose();
        t.grad = keep(sum);
      } else {
        t.grad = keep(g);
      }
      continue;
    }
    // Rules may pass `g` through or return one tensor for several inputs; give each slot its own handle.
    const seen = new Set<Tensor>([g]);
    // The rule's temporaries die with its scope; what it returns survives.
    const inputGrads = scope(() => noGrad(() => node.op.grad(g, node, t)), node.op.name).map((gx) => {
      if (!gx) return null;
      if (seen.has(gx)) return viewTensor(gx, gx.shape);
      seen.add(gx);
      return gx;
    });
    node.inputs.forEach((x, i) => {
      const gx = inputGrads[i];
      if (!gx) return;
      if (!x.requiresGrad) return gx.dispose();
      const prev = grads.get(x);
      if (!prev) return void grads.set(x, gx);
      grads.set(x, add(prev, gx));
      prev.dispose();
      gx.dispose();
    });
    g.dispose();
    if (!options.retainGraph) {
      t.node = null;
      releaseNode(node);
      released.set(t, node.op.name);
    }
  }
}

/**
 * Functional form: `grad(f)(...xs)` returns [f's value, gradients w.r.t. each x]. The xs must be leaves.
 */
export function grad(f: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...xs) => {
    const saved = xs.map((x) => [x.requiresGrad, x.grad] as const);
    for (const x of xs) {
      x.requiresGrad = true;
      x.grad = null;
    }
    const value = f(...xs);
    backward(value);
    const grads = xs.map((x, i) => {
      const g = x.grad ?? zerosLike(x); // x did not influence the value
      x.requiresGrad = saved[i]![0];
      x.grad = saved[i]![1];
      return g;
    });
    return { value, grads };
  };
}
