/**
 * Decodes PNG, JPEG and binary PPM/PGM files to 8-bit RGB, recognising the format by its leading
 * bytes rather than the file extension. PNG uses fast-png and JPEG uses jpeg-js: both are pure
 * JavaScript, so this runs unchanged in browsers.
 *
 * Conversions to RGB: grey is replicated to three channels; 16-bit samples keep their high byte
 * (v >> 8, a plain truncation); palettes are expanded; an alpha channel is dropped without
 * compositing (the stored colour is kept, as PIL's convert('RGB') does).
 */
import { decode as decodePng, convertIndexedToRgb } from 'fast-png';
import { decode as decodeJpeg } from 'jpeg-js';
import type { RgbImage } from './image.js';
import { parsePnm } from './ppm.js';

export type ImageFormat = 'png' | 'jpeg' | 'pnm';

/** The format announced by the file's first bytes, or undefined when it is none of ours. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 2 && bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x36)) return 'pnm';
  return undefined;
}

export function decodeImage(bytes: Uint8Array, source: string): RgbImage {
  const format = sniffImageFormat(bytes);
  if (format === 'pnm') return parsePnm(bytes, source);
  try {
    if (format === 'png') return pngToRgb(bytes);
    if (format === 'jpeg') {
      const img = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: false });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new Error(`${source}: cannot decode ${format!.toUpperCase()} image: ${(err as Error).message}`, { cause: err });
  }
  throw new Error(`${source}: not a PNG, JPEG or binary PPM/PGM image (unrecognised leading bytes)`);
}

function pngToRgb(bytes: Uint8Array): RgbImage {
  const png = decodePng(bytes);
  const { width, height } = png;
  const pixels = width * height;
  let samples: ArrayLike<number>;
  let channels: number;
  let depth: number = png.depth;
  if (png.palette) {
    samples = convertIndexedToRgb(png);
    channels = samples.length / pixels;
    depth = 8;
  } else {
    channels = png.channels;
    samples = depth < 8 ? unpackBits(png.data as Uint8Array, width, height, channels, depth) : png.data;
  }
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let ch = 0; ch < 3; ch++) {
      // Grey (1 or 2 channels) feeds all three outputs; the last channel of 2 or 4 is alpha.
      const v = samples[p * channels + (channels >= 3 ? ch : 0)]!;
      data[p * 3 + ch] = depth === 16 ? v >> 8 : depth < 8 ? Math.round((v * 255) / ((1 << depth) - 1)) : v;
    }
  }
  return { width, height, data };
}

/** Expands 1/2/4-bit samples; each row starts on a byte boundary (PNG spec 7.2). */
function unpackBits(packed: Uint8Array, width: number, height: number, channels: number, depth: number): Uint8Array {
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let k = 0; k < perRow; k++) {
      const bit = k * depth;
      const byte = packed[y * rowBytes + (bit >> 3)]!;
      out[y * perRow + k] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}
