/** Seeded synthetic inputs, identical for both engines (generated once on the CPU, then uploaded to each). */
import { Rng } from '../engine/node.js';

/** n values uniform in [-1, 1). */
export function uniformValues(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * rng.next() - 1;
  return out;
}

/** n class labels uniform in [0, classes). */
export function randomLabels(n: number, classes: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(classes);
  return out;
}

/** Labels as one-hot rows [n, classes] (TF.js's softmax cross-entropy takes targets this way). */
export function oneHotValues(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((label, i) => (out[i * classes + label] = 1));
  return out;
}
