/**
 * CIFAR-10 stored as one JPEG per image (the shared cifar10-jpeg.tar.gz): <root>/train/<class>/NNNN.jpg
 * and <root>/test/<class>/NNNN.jpg, where the class folder is the only label. It is an image-folder
 * dataset (./image-folder.ts) with two CIFAR-specific rules:
 *
 * - Labels. The image-folder reader numbers classes in sorted folder-name order, and the ten
 *   CIFAR-10 names happen to sort into the official label order (airplane = 0 ... truck = 9). That
 *   is checked rather than assumed: a missing or misspelt class folder would shift every label
 *   after it without any other symptom.
 * - Order. Images come class by class, each class in file-name order (NNNN = position within the
 *   class in the original batches). The original interleaving of classes cannot be recovered from
 *   this copy; training shuffles anyway.
 *
 * The pixels are a quality-75 JPEG re-encoding, so they differ slightly from the official binary
 * files (about 30 dB PSNR). This file has no platform dependencies.
 */
import { CIFAR10_CLASSES } from './cifar.js';
import type { ImageDataset } from './dataset.js';
import { isImagePath, parseImageFolder, type FolderFile } from './image-folder.js';
import type { TarEntry } from './tar.js';

export type CifarSplit = 'train' | 'test';

/**
 * The folder in an archive that holds train/ and test/: "cifar10-jpeg/" in the shared archive, ""
 * when the splits are at the top. Found from the first image at "<prefix>(train|test)/<class>/<file>".
 */
export function findCifar10JpegPrefix(paths: Iterable<string>): string | undefined {
  for (const p of paths) {
    if (!isImagePath(p)) continue;
    const m = /^(.*\/)?(?:train|test)\/[^/]+\/[^/]+$/.exec(p);
    if (m) return m[1] ?? '';
  }
  return undefined;
}

/** One split's images from an archive, with paths relative to the split folder ("<class>/<file>"). */
export function cifar10JpegSplitFiles(entries: TarEntry[], split: CifarSplit, source: string): FolderFile[] {
  const prefix = findCifar10JpegPrefix(entries.map((e) => e.path));
  if (prefix === undefined) {
    throw new Error(`${source}: no images at train/<class>/<file> or test/<class>/<file>; not a CIFAR-10 JPEG archive`);
  }
  const dir = `${prefix}${split}/`;
  const files = entries.filter((e) => e.path.startsWith(dir)).map((e) => ({ path: e.path.slice(dir.length), bytes: e.data }));
  if (!files.some((f) => isImagePath(f.path))) throw new Error(`${source}: the archive has no ${dir} images`);
  return files;
}

/** Decodes one split given as "<class>/<file>" images (from an archive or a folder). */
export function parseCifar10Jpeg(files: Iterable<FolderFile>, split: CifarSplit, source: string): ImageDataset {
  return asCifar10Jpeg(parseImageFolder(files, { width: 32, height: 32, name: `${source}: ${split}` }), split, source);
}

/**
 * Checks that an image-folder dataset has exactly the CIFAR-10 class folders (so its labels are the
 * CIFAR-10 labels) and names it "cifar10/<split> (jpeg)".
 */
export function asCifar10Jpeg(ds: ImageDataset, split: CifarSplit, source: string): ImageDataset {
  const found = ds.classNames ?? [];
  if (found.length !== CIFAR10_CLASSES.length || found.some((name, i) => name !== CIFAR10_CLASSES[i])) {
    const missing = CIFAR10_CLASSES.filter((c) => !found.includes(c));
    const extra = found.filter((c) => !CIFAR10_CLASSES.includes(c));
    throw new Error(
      `${source}: ${split}/ must hold exactly the class folders ${CIFAR10_CLASSES.join(', ')}` +
        `${missing.length ? `; missing: ${missing.join(', ')}` : ''}${extra.length ? `; unexpected: ${extra.join(', ')}` : ''}`,
    );
  }
  ds.name = `cifar10/${split} (jpeg)`;
  return ds;
}
