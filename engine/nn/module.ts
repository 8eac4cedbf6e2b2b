/**
 * Modules own named parameters (trained) and buffers (state such as batch-norm running statistics). Names
 * follow PyTorch's state_dict convention (`0.weight`, `features.3.running_mean`), so checkpoints line up with
 * PyTorch models of the same structure. Parameters and buffers live outside scopes (`keep`).
 */
import { runtime } from '../context.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';

export abstract class Module {
  training = true;
  private params = new Map<string, Tensor>();
  private bufs = new Map<string, Tensor>();
  private children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Call the module (alias of forward, for readability at call sites). */
  call(x: Tensor): Tensor {
    return this.forward(x);
  }

  protected addParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, keep(t));
    return t;
  }

  protected addBuffer(name: string, t: Tensor): Tensor {
    t.name = name;
    this.bufs.set(name, keep(t));
    return t;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /**
   * Load a tensor's values into the parameter or buffer of that name, in place: optimizers and other holders
   * keep referring to the same tensor objects. The source tensor is consumed (disposed).
   */
  private assign(name: string, t: Tensor): boolean {
    for (const map of [this.params, this.bufs]) {
      const own = map.get(name);
      if (!own) continue;
      if (t.size > 0) runtime().copy(t.buffer('loadStateDict'), 0, own.buffer('loadStateDict'), 0, t.size * 4);
      t.dispose();
      return true;
    }
    return false;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.params].map(([n, t]) => [prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** This module and every descendant, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.bufs].map(([n, t]) => [prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Parameters and buffers by name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Load the given tensors' values (shapes must match; the tensors are consumed). Missing or unexpected names throw unless `strict` is false. */
  loadStateDict(state: Map<string, Tensor>, strict = true): void {
    const mine = this.stateDict();
    const expected = new Set(mine.keys());
    // Shapes are checked here, before anything is copied and while the full dotted name ('1.weight') is known.
    for (const [name, t] of state) {
      const own = mine.get(name);
      if (own && (own.shape.length !== t.shape.length || own.shape.some((d, i) => d !== t.shape[i]) || own.dtype !== t.dtype)) {
        throw new Error(
          `tensor '${name}' has shape [${t.shape.join(', ')}] ${t.dtype}, the model expects [${own.shape.join(', ')}] ${own.dtype}`,
        );
      }
    }
    for (const [name, t] of state) {
      if (!expected.has(name)) {
        if (strict) throw new Error(`loadStateDict: unexpected tensor '${name}'`);
        continue;
      }
      expected.delete(name);
      this.route(name, t);
    }
    if (strict && expected.size > 0) throw new Error(`loadStateDict: missing tensors ${[...expected].join(', ')}`);
  }

  private route(name: string, t: Tensor): void {
    const dot = name.indexOf('.');
    if (dot >= 0) {
      const child = this.children.get(name.slice(0, dot));
      if (child?.hasState(name.slice(dot + 1))) return child.route(name.slice(dot + 1), t);
    }
    if (!this.assign(name, t)) throw new Error(`loadStateDict: no tensor '${name}'`);
  }

  private hasState(name: string): boolean {
    return this.stateDict().has(name);
  }

  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}
