import type { Tensor } from '../tensor.js';
import { sgdProgram, updateWidth } from '../../kernels/optimizer.js';
import { runProgram } from '../run-program.js';
import { Optimizer } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch semantics). */
export class SGD extends Optimizer {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;

  constructor(params: readonly Tensor[], options: SgdOptions) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new Error('SGD: Nesterov momentum requires momentum > 0 and dampening 0');
  }

  protected slotNames(): string[] {
    return this.momentum > 0 ? ['momentum'] : [];
  }

  protected update(p: Tensor, g: Tensor, slots: Record<string, Tensor>): void {
    const useMomentum = this.momentum > 0;
    const width = updateWidth(p.size);
    runProgram(sgdProgram(useMomentum, this.nesterov, width), {
      inputs: { grad: g },
      outputs: { param: p, ...(useMomentum ? { velocity: slots.momentum! } : {}) },
      uniforms: {
        n: p.size / width,
        lr: this.lr,
        momentum: this.momentum,
        dampening: this.dampening,
        weightDecay: this.weightDecay,
        firstStep: this.stepCount === 1 ? 1 : 0,
      },
    });
  }
}
