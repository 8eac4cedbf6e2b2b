/**
 * The paper's training recipes as presets: MNIST/Fashion-MNIST train the MLP with SGD (momentum 0.9, lr 0.01,
 * weight decay 1e-4); CIFAR-10, GTSRB and the other RGB sets train the VGG-style net with Adam (lr 1e-3);
 * both decay the learning rate x0.1 at fixed milestones. Every field can be overridden from the CLI.
 */
import type { ModelName } from '../engine/nn/index.js';
import type { AugmentOptions } from '../engine/data/index.js';

export interface Recipe {
  model: ModelName;
  optimizer: 'sgd' | 'adam' | 'adamw';
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  /** Multistep decay at these fractions of the epochs. */
  milestones: readonly number[];
  width: number;
  augment?: AugmentOptions;
}

const GREY: Recipe = { model: 'mlp', optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4, batchSize: 128, epochs: 10, milestones: [0.5, 0.75], width: 32 };
const RGB: Recipe = { model: 'vgg', optimizer: 'adam', lr: 1e-3, momentum: 0, weightDecay: 0, batchSize: 64, epochs: 30, milestones: [0.5, 0.75], width: 32, augment: { cropPadding: 4, hflip: true } };

export function recipeFor(dataset: string): Recipe {
  switch (dataset) {
    case 'mnist':
    case 'fashion-mnist':
      return { ...GREY };
    case 'gtsrb':
      // Traffic signs are not mirror-symmetric in meaning (left/right turn signs): no flips.
      return { ...RGB, augment: { cropPadding: 2 } };
    case 'svhn':
      return { ...RGB, augment: { cropPadding: 2 } };
    default:
      return { ...RGB };
  }
}
