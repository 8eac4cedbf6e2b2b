/**
 * A labelled image collection laid out as one folder per class (root/<class>/<file>), the layout
 * of torchvision's ImageFolder. Class indices follow the sorted class-folder names; images inside
 * a class are taken in sorted path order, so the dataset does not depend on directory-listing order.
 * Every image is decoded to RGB and resized (bilinear) to one fixed size, 32x32 unless specified.
 */
import { checkDataset, type ImageDataset } from './dataset.js';
import { fitRgb, interleavedToPlanar } from './image.js';
import { decodeImage } from './image-decode.js';

export interface FolderFile {
  /** Path relative to the dataset root, '/'-separated: "<class>/<file>" (deeper nesting allowed). */
  path: string;
  bytes: Uint8Array;
}

export interface ImageFolderOptions {
  width?: number;
  height?: number;
  name?: string;
}

/** File extensions treated as images; other files (README, .DS_Store, ...) are ignored. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.ppm', '.pgm', '.pnm'];

export function isImagePath(path: string): boolean {
  const lower = path.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

export function parseImageFolder(files: Iterable<FolderFile>, options: ImageFolderOptions = {}): ImageDataset {
  const width = options.width ?? 32;
  const height = options.height ?? 32;
  const name = options.name ?? 'image folder';
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${name}: image size must be positive integers, got ${width}x${height}`);
  }
  const byClass = new Map<string, FolderFile[]>();
  for (const f of files) {
    if (!isImagePath(f.path)) continue;
    const slash = f.path.indexOf('/');
    if (slash <= 0) throw new Error(`${name}: image "${f.path}" is not inside a class folder (expected <class>/<file>)`);
    const cls = f.path.slice(0, slash);
    let list = byClass.get(cls);
    if (!list) byClass.set(cls, (list = []));
    list.push(f);
  }
  if (byClass.size === 0) {
    throw new Error(`${name}: no images found (expected <class>/<file> with extensions ${IMAGE_EXTENSIONS.join(' ')})`);
  }
  // Plain code-unit order, as Python's sorted() gives torchvision; not locale-dependent.
  const classNames = [...byClass.keys()].sort(compareStrings);
  const ordered: { file: FolderFile; label: number }[] = [];
  classNames.forEach((cls, label) => {
    const list = byClass
      .get(cls)!
      .slice()
      .sort((a, b) => compareStrings(a.path, b.path));
    for (const file of list) ordered.push({ file, label });
  });

  const per = 3 * width * height;
  const images = new Uint8Array(ordered.length * per);
  const labels = new Int32Array(ordered.length);
  ordered.forEach(({ file, label }, i) => {
    const img = fitRgb(decodeImage(file.bytes, `${name}: ${file.path}`), width, height);
    interleavedToPlanar(img.data, width, height, 3, images, i * per);
    labels[i] = label;
  });
  const ds: ImageDataset = {
    name,
    images,
    labels,
    n: ordered.length,
    c: 3,
    h: height,
    w: width,
    numClasses: classNames.length,
    classNames,
  };
  checkDataset(ds);
  return ds;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
