import { describe, expect, it } from 'vitest';
import { decodeImage, sniffImageFormat } from '../../engine/data/image-decode.js';
import { writePng } from './builders/png.js';

describe('image decoding', () => {
  it('decodes 8-bit RGB, RGBA, grey and grey+alpha PNGs to RGB', () => {
    const rgb = writePng({ width: 2, height: 1, colorType: 2, rows: [Uint8Array.from([1, 2, 3, 4, 5, 6])] });
    expect(sniffImageFormat(rgb)).toBe('png');
    expect([...decodeImage(rgb, 'rgb.png').data]).toEqual([1, 2, 3, 4, 5, 6]);
    const rgba = writePng({ width: 1, height: 2, colorType: 6, rows: [Uint8Array.from([9, 8, 7, 0]), Uint8Array.from([1, 1, 1, 255])] });
    const r = decodeImage(rgba, 'rgba.png');
    expect([r.width, r.height, ...r.data]).toEqual([1, 2, 9, 8, 7, 1, 1, 1]);
    const grey = writePng({ width: 3, height: 1, colorType: 0, rows: [Uint8Array.from([0, 128, 255])] });
    expect([...decodeImage(grey, 'g.png').data]).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
    const ga = writePng({ width: 1, height: 1, colorType: 4, rows: [Uint8Array.from([77, 3])] });
    expect([...decodeImage(ga, 'ga.png').data]).toEqual([77, 77, 77]);
  });

  it('decodes palette, 16-bit and 1-bit PNGs', () => {
    const pal = writePng({
      width: 3,
      height: 1,
      colorType: 3,
      palette: [
        [255, 0, 0],
        [0, 0, 255],
      ],
      rows: [Uint8Array.from([1, 0, 1])],
    });
    expect([...decodeImage(pal, 'p.png').data]).toEqual([0, 0, 255, 255, 0, 0, 0, 0, 255]);
    // 16-bit RGB: big-endian samples 0x1234, 0xff00, 0x00ff -> high bytes 0x12, 0xff, 0x00.
    const deep = writePng({
      width: 1,
      height: 1,
      colorType: 2,
      bitDepth: 16,
      rows: [Uint8Array.from([0x12, 0x34, 0xff, 0x00, 0x00, 0xff])],
    });
    expect([...decodeImage(deep, 'd.png').data]).toEqual([0x12, 0xff, 0x00]);
    // 1-bit grey, 10 pixels 1011001110 packed MSB first into 2 bytes (row padded).
    const bits = writePng({ width: 10, height: 1, colorType: 0, bitDepth: 1, rows: [Uint8Array.from([0b10110011, 0b10000000])] });
    const px = decodeImage(bits, 'b.png').data.filter((_, i) => i % 3 === 0);
    expect([...px]).toEqual([255, 0, 255, 255, 0, 0, 255, 255, 255, 0]);
  });

  it('decodes PPM and rejects unknown or corrupt files with the file name', () => {
    const ppm = new Uint8Array([...new TextEncoder().encode('P6 1 1 255\n'), 4, 5, 6]);
    expect([...decodeImage(ppm, 'x.ppm').data]).toEqual([4, 5, 6]);
    expect(() => decodeImage(new TextEncoder().encode('GIF89a....'), 'a.gif')).toThrow(/^a\.gif: not a PNG, JPEG or binary PPM\/PGM image/);
    const png = writePng({ width: 2, height: 2, colorType: 2, rows: [new Uint8Array(6), new Uint8Array(6)] });
    expect(() => decodeImage(png.subarray(0, 40), 'cut.png')).toThrow(/^cut\.png: cannot decode PNG image/);
    expect(() => decodeImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]), 'cut.jpg')).toThrow(/^cut\.jpg: cannot decode JPEG image/);
  });
});
