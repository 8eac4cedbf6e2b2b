/**
 * The same network in TF.js: a `tf.sequential` built layer by layer from one of our `Sequential` models, in TF.js's
 * own layouts (NHWC activations, HWIO filters, [in, out] dense kernels), with our weights copied in. Deriving it
 * from the model (rather than writing the architecture twice) keeps the two from drifting apart, and the copied
 * weights let the benchmark check that both compute the same outputs.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, type Module, type Sequential } from '../engine/nn/index.js';
import type { Tensor } from '../engine/node.js';
import { oihwToHwio, permute } from './layouts.js';
import type { Tf } from './tfjs-peer.js';

/** Values for one TF.js layer's `setWeights`, in its order, computed from our tensors once their data is read. */
type WeightPlan = { layer: tfjs.layers.Layer; tensors: Tensor[]; convert: (values: Float32Array[]) => tfjs.Tensor[] };

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function unsupported(m: Module, what: string): never {
  throw new Error(`tfjsTwin: ${m.constructor.name} with ${what} has no TF.js counterpart here`);
}

/**
 * Build the TF.js twin of `model` for inputs of shape [C, H, W] (ours; TF.js gets [H, W, C]) and copy our weights
 * into it. Supports the layers our MLP and VGG-style models use.
 */
export async function tfjsTwin(tf: Tf, model: Sequential, inputShape: readonly [number, number, number]): Promise<tfjs.Sequential> {
  let [c, h, w] = inputShape;
  /** The [C, H, W] shape a Flatten saw last: the next Linear's inputs are in (c, h, w) order for us, (h, w, c) for TF.js. */
  let flattened: [number, number, number] | null = null;
  const layers: tfjs.layers.Layer[] = [];
  const plans: WeightPlan[] = [];
  const first = () => (layers.length === 0 ? { inputShape: [h, w, c] } : {});

  for (const m of model.layers) {
    let layer: tfjs.layers.Layer;
    if (m instanceof Linear) {
      layer = tf.layers.dense({ ...first(), units: m.outFeatures, useBias: m.bias !== null });
      const from = flattened;
      const kernel = (v: Float32Array) =>
        from
          ? tf.tensor2d(oihwToHwio(v, [m.outFeatures, ...from]), [m.inFeatures, m.outFeatures])
          : tf.tensor2d(permute(v, [m.outFeatures, m.inFeatures], [1, 0]), [m.inFeatures, m.outFeatures]);
      plans.push({
        layer,
        tensors: m.bias ? [m.weight, m.bias] : [m.weight],
        convert: ([k, b]) => (b ? [kernel(k!), tf.tensor1d(b)] : [kernel(k!)]),
      });
      flattened = null;
    } else if (m instanceof Conv2d) {
      const o = m.options;
      const [kh, kw] = pair(m.kernelSize);
      const [sh, sw] = pair(o.stride ?? 1);
      if ((o.groups ?? 1) !== 1) unsupported(m, `groups = ${o.groups}`);
      if (pair(o.dilation ?? 1).some((d) => d !== 1)) unsupported(m, 'dilation');
      const pad = o.padding ?? 0;
      const [ph, pw] = typeof pad === 'string' ? [-1, -1] : pair(pad);
      const same = pad === 'same' || (sh === 1 && sw === 1 && ph === (kh - 1) / 2 && pw === (kw - 1) / 2);
      const valid = pad === 'valid' || (ph === 0 && pw === 0);
      if (!same && !valid) unsupported(m, `padding ${JSON.stringify(pad)}`);
      layer = tf.layers.conv2d({
        ...first(),
        filters: m.outChannels,
        kernelSize: [kh, kw],
        strides: [sh, sw],
        padding: same ? 'same' : 'valid',
        useBias: m.bias !== null,
      });
      const shape = [m.outChannels, m.inChannels, kh, kw];
      const kernel = (v: Float32Array) => tf.tensor4d(oihwToHwio(v, shape), [kh, kw, m.inChannels, m.outChannels]);
      plans.push({
        layer,
        tensors: m.bias ? [m.weight, m.bias] : [m.weight],
        convert: ([k, b]) => (b ? [kernel(k!), tf.tensor1d(b)] : [kernel(k!)]),
      });
      [c, h, w] = same
        ? [m.outChannels, Math.ceil(h / sh), Math.ceil(w / sw)]
        : [m.outChannels, Math.floor((h - kh) / sh) + 1, Math.floor((w - kw) / sw) + 1];
    } else if (m instanceof BatchNorm2d) {
      const affine = m.weight !== null && m.bias !== null;
      if ((m.weight === null) !== (m.bias === null)) unsupported(m, 'only one of scale and shift');
      // PyTorch's momentum weighs the batch statistics; Keras's weighs the running ones.
      layer = tf.layers.batchNormalization({
        ...first(),
        axis: -1,
        momentum: 1 - (m.options.momentum ?? 0.1),
        epsilon: m.options.eps ?? 1e-5,
        center: affine,
        scale: affine,
      });
      plans.push({
        layer,
        tensors: affine ? [m.weight!, m.bias!, m.runningMean, m.runningVar] : [m.runningMean, m.runningVar],
        convert: (values) => values.map((v) => tf.tensor1d(v)),
      });
    } else if (m instanceof ReLU) {
      layer = tf.layers.reLU(first());
    } else if (m instanceof MaxPool2d) {
      if (m.padding !== 0) unsupported(m, `padding ${m.padding}`);
      layer = tf.layers.maxPooling2d({ ...first(), poolSize: m.kernelSize, strides: m.stride, padding: 'valid' });
      [h, w] = [Math.floor((h - m.kernelSize) / m.stride) + 1, Math.floor((w - m.kernelSize) / m.stride) + 1];
    } else if (m instanceof Flatten) {
      layer = tf.layers.flatten(first());
      flattened = [c, h, w];
    } else if (m instanceof Dropout) {
      layer = tf.layers.dropout({ ...first(), rate: m.p });
    } else {
      throw new Error(`tfjsTwin: no TF.js counterpart for layer ${m.constructor.name}`);
    }
    layers.push(layer);
  }

  const twin = tf.sequential({ layers });
  for (const p of plans) {
    const values = await Promise.all(p.tensors.map(async (t) => (await t.data()) as Float32Array));
    const weights = p.convert(values);
    p.layer.setWeights(weights);
    tf.dispose(weights);
  }
  return twin;
}
