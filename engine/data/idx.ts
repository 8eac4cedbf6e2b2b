/**
 * IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 * a 4-byte big-endian magic 0x000008DD (0x08 = unsigned bytes, DD = number of dimensions),
 * DD big-endian uint32 sizes, then the bytes in row-major order. Labels are 1-D (0x00000801),
 * images 3-D (0x00000803). Everything is checked, because a truncated download otherwise shows
 * up much later as a mysteriously bad model.
 */
import { checkDataset, type ImageDataset } from './dataset.js';

export interface IdxArray {
  dims: number[];
  /** A copy of the payload, row-major. */
  data: Uint8Array;
}

/** Parses an unsigned-byte IDX file with exactly `expectedDims` dimensions. */
export function parseIdx(bytes: Uint8Array, expectedDims: number, source: string): IdxArray {
  if (bytes.length < 4) throw new Error(`${source}: ${bytes.length} bytes is too short for an IDX file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const expectedMagic = 0x0800 | expectedDims;
  if (magic !== expectedMagic) {
    throw new Error(
      `${source}: wrong IDX magic number 0x${hex8(magic)}, expected 0x${hex8(expectedMagic)} ` +
        `(unsigned bytes, ${expectedDims} dimension${expectedDims === 1 ? '' : 's'})` +
        (bytes[0] === 0x1f && bytes[1] === 0x8b ? '; the file is gzip-compressed, decompress it first' : ''),
    );
  }
  const headerBytes = 4 + 4 * expectedDims;
  if (bytes.length < headerBytes) throw new Error(`${source}: truncated IDX header (${bytes.length} bytes)`);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < expectedDims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    count *= size;
  }
  const payload = bytes.length - headerBytes;
  if (payload < count) {
    throw new Error(`${source}: truncated: dimensions ${dims.join('x')} need ${count} data bytes, file has ${payload}`);
  }
  if (payload > count) {
    throw new Error(`${source}: ${payload - count} unexpected extra bytes after ${dims.join('x')} data`);
  }
  return { dims, data: bytes.slice(headerBytes) };
}

export interface IdxPairOptions {
  /** Names used in error messages; default "<name> images" / "<name> labels". */
  imagesSource?: string;
  labelsSource?: string;
  numClasses?: number;
  classNames?: string[];
}

/** Combines an images file (N x H x W) and a labels file (N) into a one-channel dataset. */
export function parseIdxPair(imagesBytes: Uint8Array, labelsBytes: Uint8Array, name: string, options: IdxPairOptions = {}): ImageDataset {
  const imagesSource = options.imagesSource ?? `${name} images`;
  const labelsSource = options.labelsSource ?? `${name} labels`;
  const numClasses = options.numClasses ?? options.classNames?.length ?? 10;
  const images = parseIdx(imagesBytes, 3, imagesSource);
  const labels = parseIdx(labelsBytes, 1, labelsSource);
  const [n, h, w] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) {
    throw new Error(`${labelsSource}: ${labels.dims[0]} labels, but ${imagesSource} has ${n} images`);
  }
  const labelArray = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels.data[i]!;
    if (y >= numClasses) throw new Error(`${labelsSource}: label ${y} of item ${i} is outside [0, ${numClasses})`);
    labelArray[i] = y;
  }
  const ds: ImageDataset = { name, images: images.data, labels: labelArray, n, c: 1, h, w, numClasses };
  if (options.classNames) ds.classNames = options.classNames.slice();
  checkDataset(ds);
  return ds;
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, '0');
}
