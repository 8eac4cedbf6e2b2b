/**
 * A canvas to draw a digit on, and the MNIST-style conversion of the drawing to the 28x28 input the network
 * was trained on. MNIST digits were scaled to fit a 20x20 box (keeping their aspect ratio) and then placed so
 * that their centre of mass sits at the centre of the 28x28 image; doing the same here makes hand-drawn digits
 * look like the training data, which matters a lot for a small MLP.
 */
export const SIDE = 28;
const BOX = 20;

export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private drawing = false;
  private last: { x: number; y: number } | null = null;
  private inked = false;

  /** `onStroke` runs after each finished stroke. */
  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly onStroke: () => void,
  ) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.drawing = true;
      this.last = this.toCanvas(e);
      this.line(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing) return;
      const p = this.toCanvas(e);
      this.line(this.last!, p);
      this.last = p;
    });
    const end = (): void => {
      if (!this.drawing) return;
      this.drawing = false;
      this.last = null;
      this.onStroke();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** Whether anything has been drawn (or shown) since the last clear. */
  get hasInk(): boolean {
    return this.inked;
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
  }

  /** Show a 28x28 greyscale image, enlarged, so a person can draw over it. */
  showImage(pixels: Uint8Array): void {
    const small = greyCanvas(pixels, SIDE, SIDE);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.inked = true;
  }

  /** The drawing as MNIST would have it: 28x28 bytes, digit in a 20x20 box, centre of mass in the middle. */
  toMnist(): Uint8Array {
    const { width, height } = this.canvas;
    const grey = readGrey(this.ctx, width, height);
    const box = inkBounds(grey, width, height);
    const out = new Uint8Array(SIDE * SIDE);
    if (!box) return out;
    const scale = BOX / Math.max(box.w, box.h);
    const w = Math.max(1, Math.round(box.w * scale));
    const h = Math.max(1, Math.round(box.h * scale));
    const scaled = document.createElement('canvas');
    scaled.width = w;
    scaled.height = h;
    const sctx = scaled.getContext('2d', { willReadFrequently: true })!;
    sctx.imageSmoothingEnabled = true;
    sctx.imageSmoothingQuality = 'high';
    sctx.drawImage(this.canvas, box.x, box.y, box.w, box.h, 0, 0, w, h);
    const digit = readGrey(sctx, w, h);
    const { cx, cy } = centreOfMass(digit, w, h);
    const dx = Math.round(SIDE / 2 - cx);
    const dy = Math.round(SIDE / 2 - cy);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const ty = y + dy;
        const tx = x + dx;
        if (ty >= 0 && ty < SIDE && tx >= 0 && tx < SIDE) out[ty * SIDE + tx] = digit[y * w + x]!;
      }
    }
    return out;
  }

  private toCanvas(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * this.canvas.width, y: ((e.clientY - r.top) / r.height) * this.canvas.height };
  }

  private line(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    // A stroke about as thick, relative to the digit, as MNIST's pen.
    c.lineWidth = this.canvas.width / 12;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.strokeStyle = '#fff';
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x, b.y);
    c.stroke();
    this.inked = true;
  }
}

/** A canvas showing 8-bit greyscale pixels (white on black, as MNIST stores them). */
export function greyCanvas(pixels: Uint8Array, w: number, h: number, canvas = document.createElement('canvas')): HTMLCanvasElement {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = pixels[i]!;
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

function readGrey(ctx: CanvasRenderingContext2D, w: number, h: number): Uint8Array {
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const out = new Uint8Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = Math.round((rgba[4 * i]! + rgba[4 * i + 1]! + rgba[4 * i + 2]!) / 3);
  return out;
}

/** Bounding box of the pixels with any ink, or null for a blank image. */
function inkBounds(grey: Uint8Array, w: number, h: number): { x: number; y: number; w: number; h: number } | null {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (grey[y * w + x]! > 16) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function centreOfMass(grey: Uint8Array, w: number, h: number): { cx: number; cy: number } {
  let total = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = grey[y * w + x]!;
      total += v;
      // Pixel centres, so a symmetric digit lands exactly in the middle.
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return total > 0 ? { cx: sx / total, cy: sy / total } : { cx: w / 2, cy: h / 2 };
}
