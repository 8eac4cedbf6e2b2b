/**
 * Fused optimizer updates: one dispatch per parameter reads the gradient and rewrites the parameter and its
 * state in place. The parameter is bound read_write (it is both read and written), the gradient read-only.
 * Learning rate, step-dependent bias corrections and other hyper-parameters travel as uniforms, so a schedule
 * changes them without recompiling and without any readback.
 *
 * Each invocation updates `width` consecutive elements: four (vec4 bindings) where the parameter's size is a
 * multiple of 4, one otherwise. The update is bound by its loads, and a vec4 load per invocation is much
 * cheaper per float than scalar ones on the software adapters: measured side by side on a 335,116-element SGD
 * momentum update, 1.5-2x on llvmpipe and about 2x on SwiftShader.
 */
import { kernel, linearGrid } from './program.js';
import { linearMainWgsl } from './wgsl.js';

const WG = 256;

/** Elements per invocation of an update of `n` elements; the uniform `n` of the programs is n / width. */
export type UpdateWidth = 1 | 4;

export function updateWidth(n: number): UpdateWidth {
  return n % 4 === 0 ? 4 : 1;
}

const elementType = (width: UpdateWidth) => (width === 4 ? 'vec4<f32>' : 'f32');

/** SGD with optional momentum (heavy-ball or Nesterov) and L2 weight decay, as in PyTorch's SGD. */
export function sgdProgram(momentum: boolean, nesterov: boolean, width: UpdateWidth) {
  const t = elementType(width);
  return kernel({
    name: 'sgdUpdate',
    key: `sgd|${momentum ? 'm' : '-'}|${nesterov ? 'n' : '-'}|${width}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'lr', type: 'f32' },
      { name: 'momentum', type: 'f32' },
      { name: 'dampening', type: 'f32' },
      { name: 'weightDecay', type: 'f32' },
      { name: 'firstStep', type: 'u32' },
    ],
    inputs: { grad: t },
    outputs: { param: t, ...(momentum ? { velocity: t } : {}) },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  let p = param[i];
  let g = grad[i] + u.weightDecay * p;
  ${
    momentum
      ? `// PyTorch seeds the momentum buffer with the first gradient (no dampening on step one).
  let v = select(u.momentum * velocity[i] + (1.0 - u.dampening) * g, g, u.firstStep == 1u);
  velocity[i] = v;
  let d = ${nesterov ? 'g + u.momentum * v' : 'v'};`
      : 'let d = g;'
  }
  param[i] = p - u.lr * d;
}`,
  });
}

/**
 * Adam and AdamW. `decoupled` selects AdamW (weight decay applied to the parameter, not added to the gradient).
 * Bias corrections are folded on the CPU into `stepSize` = lr / (1 - beta1^t) and `vCorrection` = 1 / (1 - beta2^t).
 */
export function adamProgram(decoupled: boolean, width: UpdateWidth) {
  const t = elementType(width);
  return kernel({
    name: decoupled ? 'adamwUpdate' : 'adamUpdate',
    key: `adam|${decoupled ? 'w' : 'l2'}|${width}`,
    workgroupSize: [WG],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'lr', type: 'f32' },
      { name: 'beta1', type: 'f32' },
      { name: 'beta2', type: 'f32' },
      { name: 'eps', type: 'f32' },
      { name: 'weightDecay', type: 'f32' },
      { name: 'stepSize', type: 'f32' },
      { name: 'vCorrection', type: 'f32' },
    ],
    inputs: { grad: t },
    outputs: { param: t, firstMoment: t, secondMoment: t },
    grid: linearGrid(WG, 'n'),
    body: () => `${linearMainWgsl(WG)}
  if (i >= u.n) { return; }
  var p = param[i];
  var g = grad[i];
  ${decoupled ? 'p = p * (1.0 - u.lr * u.weightDecay);' : 'g = g + u.weightDecay * p;'}
  let m = u.beta1 * firstMoment[i] + (1.0 - u.beta1) * g;
  let v = u.beta2 * secondMoment[i] + (1.0 - u.beta2) * g * g;
  firstMoment[i] = m;
  secondMoment[i] = v;
  param[i] = p - u.stepSize * m / (sqrt(v * u.vCorrection) + u.eps);
}`,
  });
}
