import type { Tensor } from '../tensor.js';
import { adamProgram, updateWidth } from '../../kernels/optimizer.js';
import { runProgram } from '../run-program.js';
import { Optimizer } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam (weight decay as L2 added to the gradient, like PyTorch's Adam). */
export class Adam extends Optimizer {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  protected decoupled = false;

  constructor(params: readonly Tensor[], options: AdamOptions) {
    super(params, options.lr);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected slotNames(): string[] {
    return ['m', 'v'];
  }

  protected update(p: Tensor, g: Tensor, slots: Record<string, Tensor>): void {
    const t = this.stepCount;
    const width = updateWidth(p.size);
    runProgram(adamProgram(this.decoupled, width), {
      inputs: { grad: g },
      outputs: { param: p, firstMoment: slots.m!, secondMoment: slots.v! },
      uniforms: {
        n: p.size / width,
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.weightDecay,
        stepSize: this.lr / (1 - this.beta1 ** t),
        vCorrection: 1 / (1 - this.beta2 ** t),
      },
    });
  }
}

/** AdamW: decoupled weight decay (Loshchilov & Hutter), default 0.01 as in PyTorch. */
export class AdamW extends Adam {
  protected override decoupled = true;

  constructor(params: readonly Tensor[], options: AdamOptions) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 });
  }
}
