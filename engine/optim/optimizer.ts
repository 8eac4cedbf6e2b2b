/**
 * Optimizers update parameters in place on the GPU with one fused kernel per parameter. State tensors
 * (momentum, Adam moments) belong to the optimizer, outside any scope, and are part of its state dict so a
 * resumed run continues exactly.
 */
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { zerosLike } from '../ops/creation.js';

export interface OptimizerState {
  step: number;
  lr: number;
  /** State tensors keyed `<param index>.<slot>`. */
  tensors: Record<string, Tensor>;
}

export abstract class Optimizer {
  /** Number of completed steps. */
  stepCount = 0;
  protected state = new Map<Tensor, Record<string, Tensor>>();

  constructor(
    readonly params: readonly Tensor[],
    public lr: number,
  ) {
    if (!(lr > 0)) throw new Error(`optimizer: learning rate must be positive, got ${lr}`);
    for (const p of params) {
      if (p.dtype !== 'f32') throw new Error(`optimizer: parameters must be f32, got ${p.dtype} ${p}`);
    }
  }

  /** Apply one update to every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    for (const p of this.params) {
      if (!p.grad) continue;
      if (p.grad.size !== p.size) throw new Error(`optimizer: gradient ${p.grad} does not match parameter ${p}`);
      this.update(p, p.grad, this.slots(p));
    }
  }

  /** Dispose every gradient (gradients accumulate across backward calls until this). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  protected abstract slotNames(): string[];
  protected abstract update(p: Tensor, g: Tensor, slots: Record<string, Tensor>): void;

  private slots(p: Tensor): Record<string, Tensor> {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      for (const name of this.slotNames()) s[name] = keep(zerosLike(p));
      this.state.set(p, s);
    }
    return s;
  }

  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    this.params.forEach((p, i) => {
      const s = this.state.get(p);
      if (s) for (const [k, t] of Object.entries(s)) tensors[`${i}.${k}`] = t;
    });
    return { step: this.stepCount, lr: this.lr, tensors };
  }

  /** Restore from a state dict; the tensors are taken over (not copied). */
  loadStateDict(state: OptimizerState): void {
    this.stepCount = state.step;
    this.lr = state.lr;
    this.params.forEach((p, i) => {
      const slots: Record<string, Tensor> = {};
      let found = 0;
      for (const name of this.slotNames()) {
        const t = state.tensors[`${i}.${name}`];
        if (!t) continue;
        if (t.size !== p.size) throw new Error(`optimizer.loadStateDict: state ${i}.${name} ${t} does not match parameter ${p}`);
        slots[name] = keep(t);
        found++;
      }
      if (found !== this.slotNames().length) return;
      for (const old of Object.values(this.state.get(p) ?? {})) old.dispose();
      this.state.set(p, slots);
    });
  }

  dispose(): void {
    for (const s of this.state.values()) for (const t of Object.values(s)) t.dispose();
    this.state.clear();
  }
}
