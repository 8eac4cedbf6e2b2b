/**
 * A decoded raster image and the two operations loaders apply to every image: bilinear resizing
 * and conversion from interleaved (HWC) to planar (CHW) order.
 */

export interface RgbImage {
  width: number;
  height: number;
  /** width*height*3 bytes, row-major, R G B interleaved. */
  data: Uint8Array;
}

/**
 * Bilinear resize of an interleaved image with `channels` channels, using pixel-centre alignment:
 * destination pixel x samples source coordinate (x + 0.5) * srcW / dstW - 0.5, clamped to the
 * image. This is the convention of OpenCV's INTER_LINEAR (cv2.resize's default), which produced
 * the 32x32 GTSRB copy, so resizing original-size GTSRB images here gives comparable inputs.
 * Like cv2 it does not low-pass filter when shrinking. Results are rounded to the nearest integer.
 */
export function resizeBilinear(src: Uint8Array, srcW: number, srcH: number, channels: number, dstW: number, dstH: number): Uint8Array {
  if (src.length !== srcW * srcH * channels) {
    throw new Error(`resizeBilinear: ${src.length} bytes for a ${srcW}x${srcH}x${channels} image`);
  }
  if (srcW < 1 || srcH < 1 || dstW < 1 || dstH < 1) throw new Error(`resizeBilinear: empty image (${srcW}x${srcH} -> ${dstW}x${dstH})`);
  if (srcW === dstW && srcH === dstH) return src.slice();
  const out = new Uint8Array(dstW * dstH * channels);
  const xs = samplePositions(srcW, dstW);
  const ys = samplePositions(srcH, dstH);
  for (let y = 0; y < dstH; y++) {
    const y0 = ys.i0[y]!;
    const y1 = ys.i1[y]!;
    const fy = ys.f[y]!;
    for (let x = 0; x < dstW; x++) {
      const x0 = xs.i0[x]!;
      const x1 = xs.i1[x]!;
      const fx = xs.f[x]!;
      for (let ch = 0; ch < channels; ch++) {
        const a = src[(y0 * srcW + x0) * channels + ch]!;
        const b = src[(y0 * srcW + x1) * channels + ch]!;
        const c = src[(y1 * srcW + x0) * channels + ch]!;
        const d = src[(y1 * srcW + x1) * channels + ch]!;
        const top = a + (b - a) * fx;
        const bottom = c + (d - c) * fx;
        out[(y * dstW + x) * channels + ch] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return out;
}

function samplePositions(srcSize: number, dstSize: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(dstSize);
  const i1 = new Int32Array(dstSize);
  const f = new Float64Array(dstSize);
  const scale = srcSize / dstSize;
  for (let d = 0; d < dstSize; d++) {
    const s = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), srcSize - 1);
    const lo = Math.floor(s);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, srcSize - 1);
    f[d] = s - lo;
  }
  return { i0, i1, f };
}

/** Writes an interleaved HxWxC image into `out` at `offset` as C planes of HxW (our NCHW layout). */
export function interleavedToPlanar(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  out: Uint8Array,
  offset: number,
): void {
  const plane = width * height;
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < channels; ch++) out[offset + ch * plane + p] = src[p * channels + ch]!;
  }
}

/** The image at the given size: unchanged when it already matches, else bilinearly resized. */
export function fitRgb(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width === width && img.height === height) return img;
  return { width, height, data: resizeBilinear(img.data, img.width, img.height, 3, width, height) };
}
