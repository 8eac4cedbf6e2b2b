/**
 * Finite-difference gradient checks. The scalar checked is L = sum(f(x) * w) for fixed random weights w, so
 * every output element matters. Analytic gradients come from the engine's backward; numeric ones from central
 * differences of the engine's own forward, evaluated in f32 (hence the loose default tolerances).
 */
import { expect } from 'vitest';
import * as E from '../../engine/node.js';
import { Rng } from '../../engine/random.js';

export interface GradCheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** Check at most this many elements per input (chosen at random), to keep CI fast. */
  maxChecks?: number;
  seed?: number;
}

export async function gradCheck(
  f: (...xs: E.Tensor[]) => E.Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  options: GradCheckOptions = {},
): Promise<void> {
  const eps = options.eps ?? 1e-2;
  const rtol = options.rtol ?? 3e-2;
  const atol = options.atol ?? 3e-3;
  const rng = new Rng(options.seed ?? 7);
  const evalLoss = async (datas: Float32Array[], w: E.Tensor | null): Promise<{ loss: number; w: E.Tensor }> =>
    E.scope(async () => {
      const xs = datas.map((d, i) => E.tensor(d, inputs[i]!.shape));
      const out = E.noGrad(() => f(...xs));
      const weights = w ?? E.keep(E.rand(out.shape, { rng, low: -1, high: 1 }));
      const loss = await E.sum(E.mul(out, weights)).item();
      return { loss, w: weights };
    });
  const base = inputs.map((x) => x.data);
  const { w } = await evalLoss(base, null);
  const analytic = await E.scope(async () => {
    const xs = base.map((d, i) => {
      const t = E.tensor(d, inputs[i]!.shape);
      t.requiresGrad = true;
      return t;
    });
    const loss = E.sum(E.mul(f(...xs), w));
    loss.backward();
    const grads = await Promise.all(xs.map(async (x) => (x.grad ? ((await x.grad.data()) as Float32Array) : new Float32Array(x.size))));
    for (const x of xs) x.grad?.dispose();
    return grads;
  });
  for (let k = 0; k < inputs.length; k++) {
    const n = inputs[k]!.data.length;
    const idx =
      n <= (options.maxChecks ?? 24)
        ? Array.from({ length: n }, (_, i) => i)
        : Array.from({ length: options.maxChecks ?? 24 }, () => rng.int(n));
    for (const i of idx) {
      const plus = base.map((d) => d.slice());
      const minus = base.map((d) => d.slice());
      plus[k]![i]! += eps;
      minus[k]![i]! -= eps;
      const lp = (await evalLoss(plus, w)).loss;
      const lm = (await evalLoss(minus, w)).loss;
      const numeric = (lp - lm) / (2 * eps);
      const got = analytic[k]![i]!;
      const tol = atol + rtol * Math.max(Math.abs(numeric), Math.abs(got));
      if (Math.abs(got - numeric) > tol) {
        expect.fail(`gradient of input ${k} at element ${i}: analytic ${got}, numeric ${numeric} (tolerance ${tol})`);
      }
    }
  }
  w.dispose();
}

/** Fresh uniform random f32 data. */
export function randomData(n: number, rng: Rng, low = -1, high = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = low + (high - low) * rng.next();
  return a;
}

/** Assert two arrays are elementwise close: |a-b| <= atol + rtol*|b|. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = 'value'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b)) && a !== b) {
      expect.fail(`${what}[${i}]: got ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`);
    }
  }
}
