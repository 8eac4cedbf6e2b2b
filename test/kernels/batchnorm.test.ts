/**
 * batchNorm2d against a float64 CPU reference: training mode (batch statistics, biased variance) with the
 * in-place running update (unbiased variance), eval mode (running statistics), optional gamma/beta, odd
 * shapes, batch 1, large channel means, a shape whose channels are long enough to be reduced in chunks, and the
 * fused relu (`activation: 'relu'`), forward and backward.
 * Gradients are compared with central differences of the float64 reference forward (independent of the
 * backward formula) and with the engine's own finite differences.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';
import { expectClose, gradCheck, randomData } from '../helpers/gradcheck.js';
import { useEngine } from '../helpers/setup.js';
import { size } from '../helpers/arrays.js';

useEngine();

type Shape4 = [number, number, number, number];

interface RefOptions {
  gamma?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  runningMean: ArrayLike<number>;
  runningVar: ArrayLike<number>;
  training: boolean;
  momentum: number;
  eps: number;
  relu?: boolean;
}

/** Forward in float64; also returns the running statistics after the call. */
function bnRef(
  x: ArrayLike<number>,
  [n, c, h, w]: Shape4,
  o: RefOptions,
): { y: Float64Array; runningMean: Float64Array; runningVar: Float64Array } {
  const hw = h * w;
  const m = n * hw;
  const y = new Float64Array(n * c * hw);
  const runningMean = Float64Array.from(o.runningMean);
  const runningVar = Float64Array.from(o.runningVar);
  for (let ch = 0; ch < c; ch++) {
    const values: number[] = [];
    for (let b = 0; b < n; b++) for (let s = 0; s < hw; s++) values.push(x[(b * c + ch) * hw + s]!);
    let mean = o.runningMean[ch]!;
    let variance = o.runningVar[ch]!;
    if (o.training) {
      mean = values.reduce((a, v) => a + v, 0) / m;
      const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
      variance = ss / m;
      runningMean[ch] = (1 - o.momentum) * runningMean[ch]! + o.momentum * mean;
      runningVar[ch] = (1 - o.momentum) * runningVar[ch]! + o.momentum * (ss / (m - 1));
    }
    const g = o.gamma?.[ch] ?? 1;
    const bt = o.beta?.[ch] ?? 0;
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < hw; s++) {
        const i = (b * c + ch) * hw + s;
        const z = ((x[i]! - mean) / Math.sqrt(variance + o.eps)) * g + bt;
        y[i] = o.relu ? Math.max(0, z) : z;
      }
    }
  }
  return { y, runningMean, runningVar };
}

/** Gradient of sum(w * y) w.r.t. `v` (x, gamma or beta) by central differences of the float64 forward. */
function numericGradRef(v: Float64Array, loss: () => number, h = 1e-6): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const keep = v[i]!;
    v[i] = keep + h;
    const lp = loss();
    v[i] = keep - h;
    const lm = loss();
    v[i] = keep;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

const data = async (t: E.Tensor) => (await t.data()) as Float32Array;

interface Case {
  shape: Shape4;
  gamma: boolean;
  beta: boolean;
  momentum: number;
  /** Added to every x, to check the variance of data with a large mean. */
  offset?: number;
  /** Fuse a relu into the normalisation. */
  relu?: boolean;
}

function makeInputs(c: Case, rng: Rng) {
  const ch = c.shape[1];
  return {
    x: randomData(size(c.shape), rng, -2, 2).map((v) => v + (c.offset ?? 0)),
    gamma: c.gamma ? randomData(ch, rng, 0.5, 2) : undefined,
    beta: c.beta ? randomData(ch, rng, -1, 1) : undefined,
    runningMean: randomData(ch, rng, -0.5, 0.5),
    runningVar: randomData(ch, rng, 0.5, 2),
  };
}

describe('batchNorm2d forward', () => {
  const cases: Case[] = [
    { shape: [2, 3, 4, 5], gamma: true, beta: true, momentum: 0.1 },
    { shape: [1, 1, 1, 7], gamma: false, beta: false, momentum: 0.1 },
    { shape: [1, 4, 1, 2], gamma: true, beta: true, momentum: 1 },
    { shape: [5, 7, 3, 3], gamma: true, beta: false, momentum: 0.3 },
    { shape: [4, 3, 8, 8], gamma: false, beta: true, momentum: 0.1, offset: 1000 },
    // 3 * 30 * 30 = 2700 values per channel: reduced in several chunks.
    { shape: [3, 2, 30, 30], gamma: true, beta: true, momentum: 0.2 },
    { shape: [2, 3, 4, 5], gamma: true, beta: true, momentum: 0.1, relu: true },
    { shape: [3, 2, 30, 30], gamma: false, beta: true, momentum: 0.2, relu: true },
    // Planes of 8 and 32 values: vec4 loads, two and four of them per elementwise invocation.
    { shape: [3, 2, 2, 4], gamma: true, beta: true, momentum: 0.1, relu: true },
    { shape: [2, 3, 4, 8], gamma: true, beta: false, momentum: 0.1 },
  ];

  it('training mode normalises with batch statistics and updates the running statistics in place', async () => {
    const rng = new Rng(11);
    for (const c of cases) {
      const h = makeInputs(c, rng);
      const ref = bnRef(h.x, c.shape, { ...h, training: true, momentum: c.momentum, eps: 1e-5, relu: c.relu });
      await E.scope(async () => {
        const runningMean = E.tensor(h.runningMean);
        const runningVar = E.tensor(h.runningVar);
        const x = E.tensor(h.x, c.shape);
        const options = {
          gamma: h.gamma && E.tensor(h.gamma),
          beta: h.beta && E.tensor(h.beta),
          runningMean,
          runningVar,
          training: true,
          momentum: c.momentum,
          activation: c.relu ? ('relu' as const) : ('none' as const),
        };
        const y = await data(E.batchNorm2d(x, options));
        const what = `[${c.shape}]${c.relu ? ' relu' : ''}`;
        expectClose(y, ref.y, 1e-4, 1e-4, `y ${what}`);
        expectClose(await data(runningMean), ref.runningMean, 1e-5, 1e-5, `running mean ${what}`);
        expectClose(await data(runningVar), ref.runningVar, 1e-4, 1e-5, `running var ${what}`);
        // Chunks are combined in a fixed order: a second run gives the same bits.
        expect(Array.from(await data(E.batchNorm2d(x, options)))).toEqual(Array.from(y));
      });
    }
  });

  it('two training steps compose the running averages', async () => {
    const rng = new Rng(12);
    const shape: Shape4 = [3, 2, 3, 3];
    const h = makeInputs({ shape, gamma: false, beta: false, momentum: 0.1 }, rng);
    const x2 = randomData(size(shape), rng, -3, 1);
    const first = bnRef(h.x, shape, { ...h, training: true, momentum: 0.25, eps: 1e-5 });
    const second = bnRef(x2, shape, {
      runningMean: first.runningMean,
      runningVar: first.runningVar,
      training: true,
      momentum: 0.25,
      eps: 1e-5,
    });
    await E.scope(async () => {
      const runningMean = E.tensor(h.runningMean);
      const runningVar = E.tensor(h.runningVar);
      for (const xd of [h.x, x2]) E.batchNorm2d(E.tensor(xd, shape), { runningMean, runningVar, training: true, momentum: 0.25 });
      expectClose(await data(runningMean), second.runningMean, 1e-5, 1e-6, 'running mean');
      expectClose(await data(runningVar), second.runningVar, 1e-5, 1e-6, 'running var');
    });
  });

  it('eval mode normalises with the running statistics and leaves them unchanged', async () => {
    const rng = new Rng(13);
    for (const c of [cases[0]!, cases[1]!, cases[5]!, cases[7]!]) {
      const h = makeInputs(c, rng);
      const ref = bnRef(h.x, c.shape, { ...h, training: false, momentum: 0.1, eps: 1e-3, relu: c.relu });
      await E.scope(async () => {
        const runningMean = E.tensor(h.runningMean);
        const runningVar = E.tensor(h.runningVar);
        const y = E.batchNorm2d(E.tensor(h.x, c.shape), {
          gamma: h.gamma && E.tensor(h.gamma),
          beta: h.beta && E.tensor(h.beta),
          runningMean,
          runningVar,
          training: false,
          eps: 1e-3,
          activation: c.relu ? 'relu' : 'none',
        });
        expectClose(await data(y), ref.y, 1e-5, 1e-5, `y [${c.shape}]${c.relu ? ' relu' : ''}`);
        expect(Array.from(await data(runningMean))).toEqual(Array.from(h.runningMean));
        expect(Array.from(await data(runningVar))).toEqual(Array.from(h.runningVar));
      });
    }
  });
});

describe('batchNorm2d gradients', () => {
  /** Engine gradients of sum(w * y) vs central differences of the float64 forward, for x, gamma and beta. */
  async function checkAgainstReference(c: Case, training: boolean, seed: number): Promise<void> {
    const rng = new Rng(seed);
    const h = makeInputs(c, rng);
    const w = randomData(size(c.shape), rng, -1, 1);
    const x64 = Float64Array.from(h.x);
    const gamma64 = h.gamma && Float64Array.from(h.gamma);
    const beta64 = h.beta && Float64Array.from(h.beta);
    const forward = (relu?: boolean) =>
      bnRef(x64, c.shape, {
        gamma: gamma64,
        beta: beta64,
        runningMean: h.runningMean,
        runningVar: h.runningVar,
        training,
        momentum: 0.1,
        eps: 1e-5,
        relu,
      }).y;
    const loss = () => forward(c.relu).reduce((a, v, i) => a + v * w[i]!, 0);
    // A pre-activation within f32 rounding of the kink could be masked differently on the two sides, moving
    // every gradient of its channel: the seeds are chosen so that none is.
    if (c.relu) expect(Math.min(...forward(false).map(Math.abs)), 'distance to the relu kink').toBeGreaterThan(1e-5);
    await E.scope(async () => {
      const x = E.tensor(h.x, c.shape);
      const gamma = h.gamma && E.tensor(h.gamma);
      const beta = h.beta && E.tensor(h.beta);
      for (const t of [x, gamma, beta]) if (t) t.requiresGrad = true;
      const runningStats = { runningMean: E.tensor(h.runningMean), runningVar: E.tensor(h.runningVar) };
      const y = E.batchNorm2d(x, { gamma, beta, ...runningStats, training, activation: c.relu ? 'relu' : 'none' });
      y.backward(E.tensor(w, c.shape));
      const what = `[${c.shape}] ${training ? 'training' : 'eval'}${c.relu ? ' relu' : ''}`;
      expectClose(await data(x.grad!), numericGradRef(x64, loss), 1e-3, 2e-4, `dx ${what}`);
      if (gamma) expectClose(await data(gamma.grad!), numericGradRef(gamma64!, loss), 1e-3, 1e-3, `dgamma ${what}`);
      if (beta) expectClose(await data(beta.grad!), numericGradRef(beta64!, loss), 1e-3, 1e-3, `dbeta ${what}`);
      for (const t of [x, gamma, beta]) t?.grad?.dispose();
    });
  }

  it('training mode: x, gamma and beta gradients match the float64 reference (incl. chunked channels)', async () => {
    await checkAgainstReference({ shape: [2, 3, 4, 5], gamma: true, beta: true, momentum: 0.1 }, true, 21);
    await checkAgainstReference({ shape: [1, 2, 3, 1], gamma: false, beta: false, momentum: 0.1 }, true, 22);
    await checkAgainstReference({ shape: [3, 2, 30, 30], gamma: true, beta: true, momentum: 0.1 }, true, 23);
    // vec4 loads, four (8 x 8 planes) and two (2 x 4) per elementwise invocation.
    await checkAgainstReference({ shape: [4, 2, 8, 8], gamma: true, beta: true, momentum: 0.1 }, true, 32);
    await checkAgainstReference({ shape: [3, 2, 2, 4], gamma: true, beta: false, momentum: 0.1 }, true, 33);
  });

  it('eval mode: x, gamma and beta gradients match the float64 reference', async () => {
    await checkAgainstReference({ shape: [2, 3, 4, 5], gamma: true, beta: true, momentum: 0.1 }, false, 24);
    await checkAgainstReference({ shape: [3, 2, 30, 30], gamma: false, beta: true, momentum: 0.1 }, false, 25);
    await checkAgainstReference({ shape: [4, 2, 8, 8], gamma: true, beta: true, momentum: 0.1 }, false, 34);
  });

  it('fused relu: gradients through the mask match the float64 reference (training, chunked, eval without parameters)', async () => {
    await checkAgainstReference({ shape: [2, 3, 4, 5], gamma: true, beta: true, momentum: 0.1, relu: true }, true, 28);
    await checkAgainstReference({ shape: [3, 2, 30, 30], gamma: true, beta: true, momentum: 0.1, relu: true }, true, 31);
    await checkAgainstReference({ shape: [4, 2, 8, 8], gamma: true, beta: true, momentum: 0.1, relu: true }, true, 35);
    await checkAgainstReference({ shape: [2, 2, 3, 5], gamma: true, beta: true, momentum: 0.1, relu: true }, true, 36);
    // Eval mode with no gamma or beta: the chunk pass runs only to mask the upstream gradient.
    await checkAgainstReference({ shape: [2, 3, 4, 5], gamma: false, beta: false, momentum: 0.1, relu: true }, false, 30);
  });

  it('gradients match the engine finite differences in training and eval mode', async () => {
    const rng = new Rng(26);
    const shape: Shape4 = [2, 3, 3, 2];
    const runningMean = E.tensor(randomData(3, rng, -0.5, 0.5));
    const runningVar = E.tensor(randomData(3, rng, 0.5, 2));
    const inputs = () => [
      { data: randomData(size(shape), rng, -2, 2), shape: [...shape] },
      { data: randomData(3, rng, 0.5, 2), shape: [3] },
      { data: randomData(3, rng, -1, 1), shape: [3] },
    ];
    for (const training of [true, false]) {
      await gradCheck((x, gamma, beta) => E.batchNorm2d(x, { gamma, beta, runningMean, runningVar, training }), inputs());
    }
    await gradCheck((x) => E.batchNorm2d(x, { runningMean, runningVar, training: true }), [inputs()[0]!]);
    runningMean.dispose();
    runningVar.dispose();
  });

  it('an eval-mode graph keeps the statistics it used when a later training step updates them', async () => {
    const rng = new Rng(27);
    const shape: Shape4 = [2, 2, 2, 2];
    const h = makeInputs({ shape, gamma: false, beta: false, momentum: 0.1 }, rng);
    const w = randomData(size(shape), rng, -1, 1);
    // Eval mode: dx = w / sqrt(runningVar + eps) with the running variance at forward time.
    const expected = w.map((v, i) => v / Math.sqrt(h.runningVar[Math.floor(i / 4) % 2]! + 1e-5));
    await E.scope(async () => {
      const runningMean = E.tensor(h.runningMean);
      const runningVar = E.tensor(h.runningVar);
      const x = E.tensor(h.x, shape);
      x.requiresGrad = true;
      const y = E.batchNorm2d(x, { runningMean, runningVar, training: false });
      E.noGrad(() =>
        E.batchNorm2d(E.tensor(randomData(size(shape), rng, 5, 9), shape), { runningMean, runningVar, training: true, momentum: 1 }),
      );
      y.backward(E.tensor(w, shape));
      expectClose(await data(x.grad!), expected, 1e-5, 1e-6, 'dx');
      x.grad!.dispose();
    });
  });
});

describe('batchNorm2d input checks', () => {
  it('rejects mismatched channels, ranks and options naming the op and shapes', () => {
    const x = E.zeros([2, 3, 4, 4]);
    const rm = E.zeros([3]);
    const rv = E.ones([3]);
    expect(() => E.batchNorm2d(x, { runningMean: E.zeros([5]), runningVar: rv, training: true })).toThrow(
      /batchNorm2d: runningMean is f32 \[5\] but x \[2, 3, 4, 4\] has 3 channels \(expected f32 \[3\]\)/,
    );
    expect(() => E.batchNorm2d(x, { gamma: E.ones([4]), runningMean: rm, runningVar: rv, training: true })).toThrow(
      /batchNorm2d: gamma is f32 \[4\] but x \[2, 3, 4, 4\] has 3 channels/,
    );
    expect(() => E.batchNorm2d(x, { beta: E.ones([3, 1]), runningMean: rm, runningVar: rv, training: false })).toThrow(
      /batchNorm2d: beta is f32 \[3, 1\]/,
    );
    expect(() => E.batchNorm2d(E.zeros([3, 4, 4]), { runningMean: rm, runningVar: rv, training: true })).toThrow(
      /batchNorm2d: expects an f32 tensor of shape \[N, C, H, W\], got f32 \[3, 4, 4\]/,
    );
    expect(() => E.batchNorm2d(E.zeros([1, 3, 1, 1]), { runningMean: rm, runningVar: rv, training: true })).toThrow(
      /batchNorm2d: training mode needs more than one value per channel, but x \[1, 3, 1, 1\] has 1/,
    );
    expect(() => E.batchNorm2d(x, { runningMean: rm, runningVar: rv, training: true, momentum: 2 })).toThrow(
      /batchNorm2d: momentum must be in \[0, 1\], got 2/,
    );
    expect(() => E.batchNorm2d(x, { runningMean: rm, runningVar: rm, training: true })).toThrow(
      /batchNorm2d: runningMean and runningVar must not share storage/,
    );
    expect(() => E.batchNorm2d(x, { runningMean: rm, runningVar: rv } as unknown as E.BatchNormOptions)).toThrow(
      /batchNorm2d: options.training must be true or false/,
    );
    for (const t of [x, rm, rv]) t.dispose();
  });
});
