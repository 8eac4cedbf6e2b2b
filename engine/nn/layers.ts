/** The standard layers. Weight layouts match PyTorch ([out, in] for Linear, [O, C, KH, KW] for Conv2d). */
import { Rng } from '../random.js';
import type { Tensor } from '../tensor.js';
import { ones, zeros } from '../ops/creation.js';
import { relu } from '../ops/elementwise.js';
import { flatten } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { conv2d, type Conv2dOptions } from '../ops/conv.js';
import { avgPool2d, maxPool2d } from '../ops/pool.js';
import { batchNorm2d } from '../ops/normalization.js';
import { dropout } from '../ops/dropout.js';
import { Module } from './module.js';
import { biasUniform, kaimingNormal, kaimingUniform } from './init.js';

export type InitScheme = 'kaiming-normal' | 'kaiming-uniform';

export interface LayerInit {
  rng?: Rng;
  init?: InitScheme;
}

function weight(shape: number[], o: LayerInit): Tensor {
  const rng = o.rng ?? new Rng(0);
  return (o.init ?? 'kaiming-uniform') === 'kaiming-normal' ? kaimingNormal(shape, rng) : kaimingUniform(shape, rng);
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerInit & { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.addParameter('weight', weight([outFeatures, inFeatures], options));
    this.bias = options.bias === false ? null : this.addParameter('bias', biasUniform(outFeatures, inFeatures, options.rng ?? new Rng(1)));
  }

  forward(x: Tensor): Tensor {
    return this.forwardThen(x, 'none');
  }

  /**
   * x W^T + b, then the activation and a dropout mask, in one kernel (Sequential fuses a following ReLU, and a
   * training Dropout after it, this way).
   */
  forwardThen(x: Tensor, activation: 'none' | 'relu', dropout?: { p: number; seed: number }): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(
        `Linear(${this.inFeatures}, ${this.outFeatures}): expected input [batch, ${this.inFeatures}], got [${x.shape.join(', ')}]`,
      );
    }
    return matmul(x, this.weight, { transposeB: true, bias: this.bias ?? undefined, activation, dropout });
  }
}

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | [number, number],
    readonly options: Omit<Conv2dOptions, 'bias'> & LayerInit & { bias?: boolean } = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = options.groups ?? 1;
    this.weight = this.addParameter('weight', weight([outChannels, inChannels / groups, kh, kw], options));
    this.bias =
      options.bias === false
        ? null
        : this.addParameter('bias', biasUniform(outChannels, (inChannels / groups) * kh * kw, options.rng ?? new Rng(1)));
  }

  forward(x: Tensor): Tensor {
    const { rng: _r, init: _i, bias: _b, ...conv } = this.options;
    return conv2d(x, this.weight, { ...conv, bias: this.bias ?? undefined });
  }
}

export class BatchNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor;
  runningVar: Tensor;

  constructor(
    readonly numFeatures: number,
    readonly options: { momentum?: number; eps?: number; affine?: boolean } = {},
  ) {
    super();
    const affine = options.affine ?? true;
    this.weight = affine ? this.addParameter('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.addParameter('bias', zeros([numFeatures])) : null;
    this.runningMean = this.addBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.addBuffer('running_var', ones([numFeatures]));
  }

  forward(x: Tensor): Tensor {
    return this.forwardThen(x, 'none');
  }

  /** Normalise, then the activation, in the same passes (Sequential fuses a following ReLU this way). */
  forwardThen(x: Tensor, activation: 'none' | 'relu'): Tensor {
    return batchNorm2d(x, {
      gamma: this.weight ?? undefined,
      beta: this.bias ?? undefined,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum: this.options.momentum ?? 0.1,
      eps: this.options.eps ?? 1e-5,
      activation,
    });
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return flatten(x, 1);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

/** Dropout with its own seeded stream: each training forward draws a fresh mask seed. */
export class Dropout extends Module {
  private rng: Rng;
  constructor(
    readonly p: number,
    seed = 0,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
    this.rng = new Rng(seed);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { seed: this.training ? this.nextSeed() : 0, training: this.training });
  }
  /** The next training forward's mask seed (also drawn by Sequential when it fuses this layer into a matmul). */
  nextSeed(): number {
    return this.rng.nextU32();
  }
  /** The mask stream's position (saved in checkpoints so a resumed run draws the same masks). */
  get rngState() {
    return this.rng.getState();
  }
  set rngState(s) {
    this.rng.setState(s);
  }
}

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.addModule(String(i), m));
  }
  /**
   * Runs the layers in order; a Linear or BatchNorm2d followed by a ReLU applies the relu in its own kernels
   * (the matmul's epilogue, the normalisation pass and its gradient's chunk pass): one pass less each way. A
   * Linear + ReLU followed by a training Dropout applies the mask in the matmul's epilogue too (the same mask
   * the Dropout would draw), and its gradient rides on the relu's: two passes less.
   */
  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i]!;
      const next = this.layers[i + 2];
      if (m instanceof Linear && this.layers[i + 1] instanceof ReLU && next instanceof Dropout && next.training) {
        h = m.forwardThen(h, 'relu', { p: next.p, seed: next.nextSeed() });
        i += 2;
      } else if ((m instanceof Linear || m instanceof BatchNorm2d) && this.layers[i + 1] instanceof ReLU) {
        h = m.forwardThen(h, 'relu');
        i++;
      } else {
        h = m.forward(h);
      }
    }
    return h;
  }
}
