/** Shape arithmetic shared by ops: sizes, strides, broadcasting, axis normalisation. */
export type Shape = readonly number[];

export const MAX_RANK = 8;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of two shapes; throws naming the op when they are incompatible. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast (dimension ${i} of the result: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen from a broadcast result of rank `rank` (0 where broadcast). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const rank = outShape.length;
  const own = stridesOf(shape);
  const s = new Array<number>(rank).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const j = rank - shape.length + i;
    s[j] = shape[i] === 1 && outShape[j] !== 1 ? 0 : own[i]!;
  }
  return s;
}

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normalizeAxis(op, a, rank));
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated axis in ${JSON.stringify(axes)}`);
  return list.sort((x, y) => x - y);
}

export function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of integers`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: invalid shape ${fmt(shape)} (dimensions must be non-negative integers)`);
  }
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds the supported maximum of ${MAX_RANK}`);
}
