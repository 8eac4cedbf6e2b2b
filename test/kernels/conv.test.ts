/**
 * conv2d forward and both adjoints against the float64 CPU reference (helpers/conv-reference.ts), on fresh seeded random data;
 * finite-difference checks of the gradient rule for x, w and bias; and the shape errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { size } from '../helpers/arrays.js';
import { backwardInputDispatches, forwardDispatches } from '../../kernels/conv/dispatch.js';
import { conv2dGeometry } from '../../engine/ops/conv.js';
import { convBackwardFilterRef, convBackwardInputRef, convForwardRef, convOutShape, type ConvGeometry } from '../helpers/conv-reference.js';

useEngine();

/** A test case: the geometry, mutable for building cases, and whether the convolution has a bias. */
interface Case extends ConvGeometry {
  x: [number, number, number, number];
  w: [number, number, number, number];
  bias?: boolean;
}

function options(c: Case): E.Conv2dGeometryOptions {
  return { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
}

/** Forward, backward-input and backward-filter of one case against the references. */
async function checkCase(c: Case, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const yShape = convOutShape(c);
  const xd = randomData(size(c.x), rng);
  const wd = randomData(size(c.w), rng);
  const bd = c.bias ? randomData(c.w[0], rng) : null;
  const dyd = randomData(size(yShape), rng);
  const what = JSON.stringify(c);
  await E.scope(async () => {
    const x = E.tensor(xd, c.x);
    const w = E.tensor(wd, c.w);
    const dy = E.tensor(dyd, yShape);
    const y = E.conv2d(x, w, { ...options(c), bias: bd ? E.tensor(bd, [c.w[0]]) : undefined });
    expect(y.shape).toEqual(yShape);
    // Sums of up to a few hundred products of values in [-1, 1], accumulated in f32.
    expectClose(await y.data(), convForwardRef(c, xd, wd, bd), 1e-4, 1e-4, `forward ${what}`);
    const dx = E.conv2dBackwardInput(dy, w, c.x, options(c));
    expectClose(await dx.data(), convBackwardInputRef(c, dyd, wd), 1e-4, 1e-4, `backward input ${what}`);
    const dw = E.conv2dBackwardFilter(x, dy, c.w, options(c));
    expect(dw.shape).toEqual(c.w);
    expectClose(await dw.data(), convBackwardFilterRef(c, xd, dyd), 1e-4, 2e-4, `backward filter ${what}`);
  });
}

// 'auto' takes row strips for the stride-1 cases (vec4 strips on llvmpipe where rows are multiples of 4);
// 'vector' takes vec4 strips wherever rows allow on any adapter; 'general' runs the general walk on every case.
describe.each(['auto', 'vector', 'general'] as const)(
  'conv2d against a float64 reference (forward, backward input, backward filter), %s walk',
  (variant) => {
    beforeAll(() => E.setConvVariant(variant));
    afterAll(() => E.setConvVariant('auto'));

    const cases: [string, Case][] = [
      ['odd sizes, 3x3, padding 1', { x: [2, 3, 7, 9], w: [5, 3, 3, 3], padding: [1, 1] }],
      ['stride 2, padding 1', { x: [2, 4, 9, 8], w: [6, 4, 3, 3], stride: [2, 2], padding: [1, 1] }],
      ["'same' with stride 2 (asymmetric padding)", { x: [1, 3, 10, 7], w: [4, 3, 4, 3], stride: [2, 2], padding: 'same' }],
      ["'same' with strides 3 and 2, even kernel", { x: [2, 2, 11, 8], w: [3, 2, 2, 4], stride: [3, 2], padding: 'same' }],
      ["'same' with stride 1, 5x5", { x: [1, 2, 6, 5], w: [3, 2, 5, 5], padding: 'same' }],
      ['1x1 convolution', { x: [3, 5, 6, 6], w: [7, 5, 1, 1] }],
      ['1x1 convolution, stride 2', { x: [2, 6, 7, 5], w: [9, 6, 1, 1], stride: [2, 2] }],
      ['kernel covering the whole input', { x: [2, 3, 5, 4], w: [4, 3, 5, 4], padding: 'valid' }],
      ['kernel covering the whole padded input', { x: [1, 2, 3, 3], w: [3, 2, 5, 5], padding: [1, 1] }],
      ['channels not a multiple of 4, batch 1', { x: [1, 7, 6, 5], w: [5, 7, 3, 3], padding: [1, 1], bias: true }],
      ['groups = 2', { x: [2, 6, 7, 7], w: [4, 3, 3, 3], padding: [1, 1], groups: 2 }],
      ['groups = 3, 2 outputs per group, stride 2', { x: [2, 9, 8, 8], w: [6, 3, 3, 3], stride: [2, 2], padding: 'same', groups: 3 }],
      ['depthwise', { x: [2, 5, 8, 8], w: [5, 1, 3, 3], padding: [1, 1], groups: 5, bias: true }],
      ['depthwise with channel multiplier 2, stride 2', { x: [1, 3, 9, 9], w: [6, 1, 3, 3], stride: [2, 2], padding: [1, 1], groups: 3 }],
      ['dilation 2', { x: [1, 3, 11, 11], w: [4, 3, 3, 3], dilation: [2, 2], padding: [2, 2] }],
      ["dilation 2, 'same', stride 2", { x: [2, 2, 9, 10], w: [3, 2, 3, 3], dilation: [2, 2], stride: [2, 2], padding: 'same' }],
      ['stride 3, unequal padding per axis', { x: [2, 3, 10, 9], w: [5, 3, 3, 2], stride: [3, 3], padding: [1, 2] }],
      [
        'vertical stride and dilation 2, horizontal 1 (row strips)',
        { x: [2, 3, 9, 10], w: [4, 3, 3, 3], stride: [2, 1], dilation: [2, 1], padding: [2, 1] },
      ],
      ['widest row-strip kernel (KW = 7)', { x: [1, 2, 5, 12], w: [3, 2, 2, 7], padding: 'same' }],
      ['kernel wider than the row strips take (KW = 8)', { x: [2, 2, 3, 11], w: [3, 2, 1, 8] }],
      // Rows of a multiple of 4: vec4 strips, the strip starting 0, 1, 2 or 3 elements before a quad boundary.
      ['rows of 12, no padding (strip shift 0)', { x: [2, 3, 6, 12], w: [5, 3, 3, 3] }],
      ['rows of 20, padding 1, 16-pixel tiles and a partial one', { x: [2, 4, 5, 20], w: [9, 4, 3, 3], padding: [1, 1], bias: true }],
      ['rows of 8, 5x5, padding 2', { x: [1, 3, 7, 8], w: [4, 3, 5, 5], padding: [2, 2] }],
      ['rows of 4, KW = 7, padding 3', { x: [2, 2, 9, 4], w: [3, 2, 3, 7], padding: [1, 3] }],
      // The filter gradient's row strips (rows of dy of a multiple of 4), vec4 ones where x's rows are too.
      ['rows of 12 from rows of 8, KW = 5, padding 4 (strip shift 0)', { x: [2, 3, 4, 8], w: [6, 3, 3, 5], padding: [1, 4] }],
      ['1x1 convolution on rows of 8 (strips of one tap)', { x: [2, 5, 3, 8], w: [6, 5, 1, 1] }],
      ['rows of 16, 8 and 12 channels (packed weights, partial channel tiles)', { x: [2, 12, 3, 16], w: [12, 12, 3, 3], padding: [1, 1] }],
      [
        'groups = 2 with 4 channels each (packed weights per group)',
        { x: [1, 8, 5, 8], w: [8, 4, 3, 3], padding: [1, 1], groups: 2, bias: true },
      ],
      // Row blocks (channels in quads): 2 rows of 16, 4 of 8 or 8 of 4 per tile, KH unrolled, a partial last block.
      ['rows of 4, 5x3 kernel, 8 output channels (8-row blocks)', { x: [2, 4, 5, 4], w: [8, 4, 5, 3], padding: [2, 1], bias: true }],
      ['rows of 8, 8 channels in and out (4-row blocks)', { x: [2, 8, 7, 8], w: [8, 8, 3, 3], padding: [1, 1] }],
      ['4 x 4 planes, 16 channels in and out (16-channel tiles)', { x: [2, 16, 4, 4], w: [16, 16, 3, 3], padding: [1, 1], bias: true }],
      // SwiftShader's row blocks (OIHW weights, scalar strips): rows of 8 or fewer, channels in or not in quads.
      ['rows of 6, 6 -> 10 channels (4-row blocks on SwiftShader, partial)', { x: [2, 6, 5, 6], w: [10, 6, 3, 3], padding: [1, 1] }],
      ['bias with many output channels', { x: [2, 4, 5, 5], w: [13, 4, 3, 3], padding: [1, 1], bias: true }],
      // Few filter tiles and a long reduction: the filter gradient splits N*OH*OW into chunks and sums them.
      ['long reduction (chunked filter gradient)', { x: [4, 2, 24, 24], w: [2, 2, 3, 3], padding: [1, 1] }],
    ];
    cases.forEach(([name, c], k) => it(name, () => checkCase(c, 100 + k)));

    it('random shapes and options', async () => {
      const rng = new Rng(2024);
      const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
      for (let trial = 0; trial < 12; trial++) {
        const groups = pick([1, 1, 2, 3]);
        const Cg = 1 + rng.int(4);
        const Og = 1 + rng.int(5);
        const KH = 1 + rng.int(4);
        const KW = 1 + rng.int(4);
        const dilation: [number, number] = [1 + rng.int(2), 1 + rng.int(2)];
        const stride: [number, number] = [1 + rng.int(3), 1 + rng.int(3)];
        const padding = pick(['same', 'valid', 'explicit'] as const);
        const pad: [number, number] = [rng.int(KH), rng.int(KW)];
        // Large enough for the dilated kernel even without padding.
        const H = (KH - 1) * dilation[0] + 1 + rng.int(8);
        const W = (KW - 1) * dilation[1] + 1 + rng.int(8);
        const c: Case = {
          x: [1 + rng.int(3), groups * Cg, H, W],
          w: [groups * Og, Cg, KH, KW],
          stride,
          dilation,
          groups,
          padding: padding === 'explicit' ? pad : padding,
          bias: rng.next() < 0.5,
        };
        await checkCase(c, 1000 + trial);
      }
    });
  },
);

describe('conv2d tile plans per adapter', () => {
  const swiftShader = { isFallbackAdapter: true, backend: 'vulkan' };
  const llvmpipe = { isFallbackAdapter: true, backend: 'opengles' };
  /** The kernels 'auto' plans for the forward and the input gradient of a 3x3 layer c -> o on size x size planes. */
  const kernels = (c: number, o: number, size: number, adapter: typeof swiftShader, options: E.Conv2dGeometryOptions = { padding: 1 }) => {
    const geo = conv2dGeometry('plan', [8, c, size, size], [o, c, 3, 3], options);
    return [forwardDispatches(geo, false, 'auto', adapter)[0]!.program.key, backwardInputDispatches(geo, 'auto', adapter)[0]!.program.key];
  };

  it('SwiftShader takes row blocks of up to 32 pixels and 128 sums with OIHW weights on rows of 8 or fewer', () => {
    expect(kernels(64, 128, 8, swiftShader)).toEqual([
      'conv2d|fwd|reg|8x4|block4x3x3|scalar|w1|nobias',
      'conv2d|dx|reg|8x4|block4x3x3|scalar|w1',
    ]);
    expect(kernels(128, 128, 4, swiftShader)).toEqual([
      'conv2d|fwd|reg|4x8|block4x3x3|scalar|w1|nobias',
      'conv2d|dx|reg|4x8|block4x3x3|scalar|w1',
    ]);
    expect(kernels(6, 6, 8, swiftShader)).toEqual([
      'conv2d|fwd|reg|8x4|block4x3x3|scalar|w1|nobias',
      'conv2d|dx|reg|8x4|block4x3x3|scalar|w1',
    ]);
    // Longer rows, and a vertical stride, keep one-row tiles.
    expect(kernels(32, 64, 16, swiftShader)).toEqual(['conv2d|fwd|reg|16x8|rows3|scalar|w1|nobias', 'conv2d|dx|reg|16x8|rows3|scalar|w1']);
    expect(kernels(64, 128, 8, swiftShader, { padding: 1, stride: [2, 1] })[1]).toBe('conv2d|dx|reg|8x8|rows3|scalar|w1');
  });

  it('llvmpipe keeps its 32-pixel blocks with packed weights', () => {
    expect(kernels(64, 128, 8, llvmpipe)).toEqual([
      'conv2d|fwd|reg|8x8|block4x3x3|scalar|w4|nobias',
      'conv2d|dx|reg|8x8|block4x3x3|scalar|w4',
    ]);
  });
});

describe('conv2d gradients (finite differences)', () => {
  it("x, w and bias with stride 2 and 'same' padding", async () => {
    const rng = new Rng(5);
    await gradCheck(
      (x, w, b) => E.conv2d(x, w, { stride: 2, padding: 'same', bias: b }),
      [
        { data: randomData(2 * 3 * 5 * 6, rng), shape: [2, 3, 5, 6] },
        { data: randomData(4 * 3 * 3 * 2, rng), shape: [4, 3, 3, 2] },
        { data: randomData(4, rng), shape: [4] },
      ],
      { maxChecks: 16 },
    );
  });

  it('x and w with groups = 2, dilation 2 and explicit padding', async () => {
    const rng = new Rng(6);
    await gradCheck(
      (x, w) => E.conv2d(x, w, { groups: 2, dilation: 2, padding: [2, 1] }),
      [
        { data: randomData(1 * 4 * 6 * 5, rng), shape: [1, 4, 6, 5] },
        { data: randomData(6 * 2 * 3 * 3, rng), shape: [6, 2, 3, 3] },
      ],
      { maxChecks: 16 },
    );
  });

  it('depthwise, through a nonlinearity and a second convolution', async () => {
    const rng = new Rng(7);
    await gradCheck(
      (x, w1, w2) => E.conv2d(E.tanh(E.conv2d(x, w1, { groups: 3, padding: 1 })), w2, { stride: 2 }),
      [
        { data: randomData(2 * 3 * 5 * 5, rng), shape: [2, 3, 5, 5] },
        { data: randomData(3 * 1 * 3 * 3, rng), shape: [3, 1, 3, 3] },
        { data: randomData(2 * 3 * 2 * 2, rng), shape: [2, 3, 2, 2] },
      ],
      { maxChecks: 12 },
    );
  });

  it('only the inputs that require gradients get one', () => {
    E.scope(() => {
      const x = E.tensor(randomData(2 * 2 * 4 * 4, new Rng(8)), [2, 2, 4, 4]);
      const w = E.tensor(randomData(3 * 2 * 3 * 3, new Rng(9)), [3, 2, 3, 3]);
      w.requiresGrad = true;
      E.sum(E.conv2d(x, w, { padding: 1 })).backward();
      expect(x.grad).toBeNull();
      expect(w.grad?.shape).toEqual([3, 2, 3, 3]);
      w.grad?.dispose();
    });
  });
});

describe('conv2d errors', () => {
  const x = () => E.zeros([2, 4, 6, 6]);
  const cases: [string, () => unknown, RegExp][] = [
    ['channel mismatch', () => E.conv2d(x(), E.zeros([3, 5, 3, 3])), /conv2d: channel mismatch.*\[2, 4, 6, 6\].*\[3, 5, 3, 3\]/],
    [
      'groups not dividing C',
      () => E.conv2d(x(), E.zeros([3, 1, 3, 3]), { groups: 3 }),
      /conv2d: groups = 3 must divide.*C = 4.*\[2, 4, 6, 6\]/,
    ],
    [
      'groups not dividing O',
      () => E.conv2d(x(), E.zeros([3, 2, 3, 3]), { groups: 2 }),
      /conv2d: groups = 2 must divide.*O = 3.*\[3, 2, 3, 3\]/,
    ],
    [
      'kernel larger than the padded input',
      () => E.conv2d(x(), E.zeros([3, 4, 9, 3]), { padding: 1 }),
      /conv2d: the kernel spans 9x3.*padded input 8x8.*\[3, 4, 9, 3\]/,
    ],
    ['dilated kernel larger than the input', () => E.conv2d(x(), E.zeros([3, 4, 3, 3]), { dilation: 3 }), /conv2d: the kernel spans 7x7/],
    ['input of rank 3', () => E.conv2d(E.zeros([4, 6, 6]), E.zeros([3, 4, 3, 3])), /conv2d: the input must have rank 4.*\[4, 6, 6\]/],
    ['weights of rank 2', () => E.conv2d(x(), E.zeros([3, 4])), /conv2d: the weights must have rank 4.*\[3, 4\]/],
    [
      'bias of the wrong size',
      () => E.conv2d(x(), E.zeros([3, 4, 3, 3]), { bias: E.zeros([4]) }),
      /conv2d: the bias must have shape \[3\].*\[4\]/,
    ],
    ['zero stride', () => E.conv2d(x(), E.zeros([3, 4, 3, 3]), { stride: 0 }), /conv2d: stride must be an integer >= 1/],
    ['integer input', () => E.conv2d(E.zeros([2, 4, 6, 6], 'i32'), E.zeros([3, 4, 3, 3])), /conv2d: the input must be f32, got i32/],
    [
      'gradient of the wrong shape',
      () => E.conv2dBackwardInput(E.zeros([2, 3, 5, 5]), E.zeros([3, 4, 3, 3]), [2, 4, 6, 6]),
      /conv2dBackwardInput: the output gradient must have .* \[2, 3, 4, 4\], got \[2, 3, 5, 5\]/,
    ],
  ];
  for (const [name, f, message] of cases) {
    it(name, () => {
      E.scope(() => {
        expect(f).toThrow(message);
      });
    });
  }
});
