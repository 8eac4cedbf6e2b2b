/**
 * SVHN "cropped digits" (format 2, http://ufldl.stanford.edu/housenumbers/): train_32x32.mat,
 * test_32x32.mat and extra_32x32.mat each hold X, a uint8 32x32x3xN array (row, column, channel,
 * image; column-major, so the row index varies fastest), and y, an Nx1 array of labels 1..10 where
 * 10 stands for the digit 0. We map 10 to 0 so that labels are the digits themselves.
 */
import { checkDataset, type ImageDataset } from './dataset.js';
import { readMat5, type MatVariable } from './mat5.js';

export const SVHN_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Parses an SVHN cropped-digits .mat file into a 3x32x32 dataset with labels 0..9. */
export async function parseSvhnMat(bytes: Uint8Array, source: string): Promise<ImageDataset> {
  return svhnFromVariables(await readMat5(bytes, source), source);
}

/** Builds the dataset from already-read MAT variables X and y. */
export function svhnFromVariables(vars: Map<string, MatVariable>, source: string): ImageDataset {
  const X = vars.get('X');
  const y = vars.get('y');
  if (!X || !y) {
    throw new Error(`${source}: expected variables X and y (SVHN cropped digits), found: ${[...vars.keys()].join(', ') || 'none'}`);
  }
  if (X.dims.length !== 4 || X.dims[2] !== 3) {
    throw new Error(`${source}: X has dimensions ${X.dims.join('x')}, expected HxWx3xN`);
  }
  const [h, w, , n] = X.dims as [number, number, number, number];
  if (!X.data || X.data instanceof BigInt64Array || X.data instanceof BigUint64Array) {
    throw new Error(`${source}: X has class ${X.className}, expected a numeric (uint8) array`);
  }
  if (!y.data || y.data instanceof BigInt64Array || y.data instanceof BigUint64Array) {
    throw new Error(`${source}: y has class ${y.className}, expected a numeric array`);
  }
  if (y.data.length !== n) throw new Error(`${source}: y has ${y.data.length} labels for ${n} images in X`);

  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 10) throw new Error(`${source}: y(${i + 1}) = ${v}, expected an integer in 1..10`);
    labels[i] = v === 10 ? 0 : v;
  }

  // Column-major X(row, col, ch, i) sits at row + h*(col + w*(ch + 3*i)); we want i, ch, row, col.
  const src = X.data;
  const plane = h * w;
  const images = new Uint8Array(n * 3 * plane);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const base = (i * 3 + ch) * plane;
      for (let col = 0; col < w; col++) {
        const from = base + col * h;
        for (let row = 0; row < h; row++) {
          const v = src[from + row]!;
          if (!(v >= 0 && v <= 255)) throw new Error(`${source}: X value ${v} is outside 0..255`);
          images[base + row * w + col] = v;
        }
      }
    }
  }
  const ds: ImageDataset = { name: source, images, labels, n, c: 3, h, w, numClasses: 10, classNames: SVHN_CLASSES.slice() };
  checkDataset(ds);
  return ds;
}
