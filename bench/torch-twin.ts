/**
 * The same network for PyTorch: our `Sequential` described layer by layer as JSON, which bench/torch_peer.py turns
 * into a `torch.nn.Sequential` (PyTorch shares our layouts: NCHW activations, OIHW filters, [out, in] weights).
 * Deriving it from the model keeps the two from drifting apart. Weights keep PyTorch's own initialisation: a
 * speed comparison needs the same shapes, not the same values. Also counts the multiply-adds of the layers that
 * are GEMMs (Linear, Conv2d), so a training step's GFLOP/s can be compared with the adapter's ceiling.
 */
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, type Module, type Sequential } from '../engine/nn/index.js';

export type TorchLayer =
  | { type: 'linear'; in: number; out: number; bias: boolean }
  | {
      type: 'conv2d';
      in: number;
      out: number;
      kernel: [number, number];
      stride: [number, number];
      padding: [number, number];
      bias: boolean;
    }
  | { type: 'batchnorm2d'; features: number; eps: number; momentum: number; affine: boolean }
  | { type: 'relu' }
  | { type: 'maxpool2d'; kernel: number; stride: number; padding: number }
  | { type: 'flatten' }
  | { type: 'dropout'; p: number };

export interface TorchTwin {
  layers: TorchLayer[];
  /** Floating-point operations of the GEMM layers for one image in one training step (forward + both adjoints). */
  gemmFlopsPerImage: number;
}

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function unsupported(m: Module, what: string): never {
  throw new Error(`torchTwin: ${m.constructor.name} with ${what} has no PyTorch description here`);
}

/** Describe `model` for inputs of shape [C, H, W]; supports the layers our MLP and VGG-style models use. */
export function torchTwin(model: Sequential, inputShape: readonly [number, number, number]): TorchTwin {
  let [c, h, w] = inputShape;
  let forwardMacs = 0;
  const layers = model.layers.map((m): TorchLayer => {
    if (m instanceof Linear) {
      forwardMacs += m.inFeatures * m.outFeatures;
      [c, h, w] = [m.outFeatures, 1, 1];
      return { type: 'linear', in: m.inFeatures, out: m.outFeatures, bias: m.bias !== null };
    }
    if (m instanceof Conv2d) {
      const o = m.options;
      if ((o.groups ?? 1) !== 1) unsupported(m, `groups = ${o.groups}`);
      if (pair(o.dilation ?? 1).some((d) => d !== 1)) unsupported(m, 'dilation');
      const kernel = pair(m.kernelSize);
      const stride = pair(o.stride ?? 1);
      const pad = o.padding ?? 0;
      if (typeof pad === 'string') unsupported(m, `padding '${pad}'`);
      const padding = pair(pad);
      const [oh, ow] = [0, 1].map((i) => Math.floor(([h, w][i]! + 2 * padding[i]! - kernel[i]!) / stride[i]!) + 1) as [number, number];
      forwardMacs += oh * ow * m.outChannels * m.inChannels * kernel[0] * kernel[1];
      [c, h, w] = [m.outChannels, oh, ow];
      return { type: 'conv2d', in: m.inChannels, out: m.outChannels, kernel, stride, padding, bias: m.bias !== null };
    }
    if (m instanceof BatchNorm2d) {
      return {
        type: 'batchnorm2d',
        features: m.numFeatures,
        eps: m.options.eps ?? 1e-5,
        momentum: m.options.momentum ?? 0.1,
        affine: m.weight !== null,
      };
    }
    if (m instanceof ReLU) return { type: 'relu' };
    if (m instanceof MaxPool2d) {
      [h, w] = [h, w].map((s) => Math.floor((s + 2 * m.padding - m.kernelSize) / m.stride) + 1) as [number, number];
      return { type: 'maxpool2d', kernel: m.kernelSize, stride: m.stride, padding: m.padding };
    }
    if (m instanceof Flatten) {
      [c, h, w] = [c * h * w, 1, 1];
      return { type: 'flatten' };
    }
    if (m instanceof Dropout) return { type: 'dropout', p: m.p };
    throw new Error(`torchTwin: no PyTorch description for layer ${m.constructor.name}`);
  });
  // Forward, backward wrt the input and backward wrt the weights: three products of the same size, 2 flops per MAC.
  // (The first layer's input adjoint is counted too, though a training step need not compute it: the usual 3x rule.)
  return { layers, gemmFlopsPerImage: 3 * 2 * forwardMacs };
}
