export { Optimizer, type OptimizerState } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { constantLr, multiStepLr, cosineLr, type LrSchedule } from './schedule.js';
