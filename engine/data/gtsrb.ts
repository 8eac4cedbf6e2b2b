/**
 * GTSRB, the German Traffic Sign Recognition Benchmark (https://benchmark.ini.rub.de/), in its
 * official file layout, relative to the GTSRB/ folder:
 *
 *   Final_Training/Images/000CC/<track>_<frame>.ppm   + GT-000CC.csv  (43 classes, CC = 00..42)
 *   Final_Test/Images/NNNNN.ppm                        + Final_Test/GT-final_test.csv (with ClassId)
 *
 * Files are looked up by path through a function, so the same code reads an extracted folder or
 * the entries of an in-memory tar. The CSVs list the files, so no directory listing is needed.
 *
 * Images are scaled to size x size (default 32) with bilinear interpolation when they are not
 * already that size; the whole image is scaled, aspect ratio and ROI ignored, which is what the
 * shared 32x32 copy did with cv2.resize. (The CSV's Width/Height/Roi columns describe the original
 * images, not the stored ones, so they are not used.)
 *
 * Training images come in tracks: 30 frames of one physical sign. Each image's track is recorded
 * in `groups` (a dense id per class+track) so a validation split can keep tracks whole.
 */
import { checkDataset, type ImageDataset } from './dataset.js';
import { parseTable } from './csv.js';
import { fitRgb, interleavedToPlanar } from './image.js';
import { parsePnm } from './ppm.js';

/** Returns a file's bytes given its path relative to the GTSRB/ folder, or undefined if absent. */
export type FileLookup = (relativePath: string) => Uint8Array | undefined;

export const GTSRB_NUM_CLASSES = 43;

/** The customary English names of the 43 classes (as in the widely used signnames.csv). */
// prettier-ignore
export const GTSRB_CLASSES = [
  'Speed limit (20km/h)', 'Speed limit (30km/h)', 'Speed limit (50km/h)', 'Speed limit (60km/h)',
  'Speed limit (70km/h)', 'Speed limit (80km/h)', 'End of speed limit (80km/h)', 'Speed limit (100km/h)',
  'Speed limit (120km/h)', 'No passing', 'No passing for vehicles over 3.5 metric tons',
  'Right-of-way at the next intersection', 'Priority road', 'Yield', 'Stop', 'No vehicles',
  'Vehicles over 3.5 metric tons prohibited', 'No entry', 'General caution', 'Dangerous curve to the left',
  'Dangerous curve to the right', 'Double curve', 'Bumpy road', 'Slippery road', 'Road narrows on the right',
  'Road work', 'Traffic signals', 'Pedestrians', 'Children crossing', 'Bicycles crossing',
  'Beware of ice/snow', 'Wild animals crossing', 'End of all speed and passing limits', 'Turn right ahead',
  'Turn left ahead', 'Ahead only', 'Go straight or right', 'Go straight or left', 'Keep right', 'Keep left',
  'Roundabout mandatory', 'End of no passing', 'End of no passing by vehicles over 3.5 metric tons',
];

export interface GtsrbOptions {
  /** Output side length in pixels; default 32. */
  size?: number;
}

const TRAIN_CSV = (cc: string) => `Final_Training/Images/${cc}/GT-${cc}.csv`;
const TEST_CSV = 'Final_Test/GT-final_test.csv';
const TEST_CSV_UNLABELLED = 'Final_Test/Images/GT-final_test.test.csv';

/**
 * Finds the GTSRB/ folder among archive paths: returns the prefix (e.g. "GTSRB/" or "") that
 * precedes "Final_Training/" or "Final_Test/", or undefined when neither is present.
 */
export function findGtsrbPrefix(paths: Iterable<string>): string | undefined {
  for (const p of paths) {
    for (const marker of [TRAIN_CSV('00000'), TEST_CSV]) {
      if (p === marker) return '';
      if (p.endsWith(`/${marker}`)) return p.slice(0, p.length - marker.length);
    }
  }
  return undefined;
}

export function parseGtsrb(lookup: FileLookup, split: 'train' | 'test', source: string, options: GtsrbOptions = {}): ImageDataset {
  const size = options.size ?? 32;
  if (!Number.isInteger(size) || size < 1) throw new Error(`GTSRB: size must be a positive integer, got ${size}`);
  const items = split === 'train' ? trainItems(lookup, source) : testItems(lookup, source);

  const per = 3 * size * size;
  const images = new Uint8Array(items.length * per);
  const labels = new Int32Array(items.length);
  items.forEach((item, i) => {
    const bytes = lookup(item.path);
    if (!bytes) throw new Error(`${source}: ${item.path} is listed in ${item.listedIn} but missing`);
    const img = fitRgb(parsePnm(bytes, `${source}: ${item.path}`), size, size);
    interleavedToPlanar(img.data, size, size, 3, images, i * per);
    labels[i] = item.label;
  });

  const ds: ImageDataset = {
    name: `gtsrb/${split}`,
    images,
    labels,
    n: items.length,
    c: 3,
    h: size,
    w: size,
    numClasses: GTSRB_NUM_CLASSES,
    classNames: GTSRB_CLASSES.slice(),
  };
  if (split === 'train') ds.groups = Int32Array.from(items, (it) => it.group);
  checkDataset(ds);
  return ds;
}

interface Item {
  path: string;
  label: number;
  group: number;
  listedIn: string;
}

function trainItems(lookup: FileLookup, source: string): Item[] {
  const items: Item[] = [];
  const missing: string[] = [];
  const groupIds = new Map<string, number>();
  for (let c = 0; c < GTSRB_NUM_CLASSES; c++) {
    const cc = String(c).padStart(5, '0');
    const csvPath = TRAIN_CSV(cc);
    const csv = lookup(csvPath);
    if (!csv) {
      missing.push(csvPath);
      continue;
    }
    const where = `${source}: ${csvPath}`;
    const table = parseTable(new TextDecoder().decode(csv), where, { required: ['Filename', 'ClassId'] });
    table.rows.forEach((row, r) => {
      const label = parseClassId(row.ClassId!, `${where} row ${r + 2}`);
      if (label !== c) throw new Error(`${where} row ${r + 2}: ClassId ${label} in the folder of class ${c}`);
      const file = row.Filename!;
      // "<track>_<frame>.ppm": frames of one track are the same physical sign.
      const m = /^(\d+)_\d+\.ppm$/i.exec(file);
      const key = m ? `${c}/${m[1]}` : `${c}/${file}`;
      let group = groupIds.get(key);
      if (group === undefined) {
        group = groupIds.size;
        groupIds.set(key, group);
      }
      items.push({ path: `Final_Training/Images/${cc}/${file}`, label, group, listedIn: csvPath });
    });
  }
  if (missing.length === GTSRB_NUM_CLASSES) {
    throw new Error(`${source}: no GTSRB training annotations found (looked for ${TRAIN_CSV('00000')} and the other 42 classes)`);
  }
  if (missing.length > 0) {
    throw new Error(
      `${source}: incomplete GTSRB training set, missing ${missing.length} of 43 class annotation files: ${missing.join(', ')}`,
    );
  }
  return items;
}

function testItems(lookup: FileLookup, source: string): Item[] {
  const csv = lookup(TEST_CSV);
  if (!csv) {
    const hint = lookup(TEST_CSV_UNLABELLED)
      ? ` Only the unlabelled ${TEST_CSV_UNLABELLED} is present; the labelled GT-final_test.csv ` +
        `(GTSRB_Final_Test_GT.zip) is published separately at https://benchmark.ini.rub.de/.`
      : '';
    throw new Error(`${source}: no GTSRB test annotations (${TEST_CSV}).${hint}`);
  }
  const where = `${source}: ${TEST_CSV}`;
  const table = parseTable(new TextDecoder().decode(csv), where, { required: ['Filename', 'ClassId'] });
  return table.rows.map((row, r) => ({
    path: `Final_Test/Images/${row.Filename!}`,
    label: parseClassId(row.ClassId!, `${where} row ${r + 2}`),
    group: r,
    listedIn: TEST_CSV,
  }));
}

function parseClassId(text: string, where: string): number {
  const t = text.trim();
  const v = Number(t);
  if (!/^\d+$/.test(t) || v >= GTSRB_NUM_CLASSES) throw new Error(`${where}: ClassId "${text}" is not in 0..42`);
  return v;
}
