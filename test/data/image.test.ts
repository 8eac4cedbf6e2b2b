import { describe, expect, it } from 'vitest';
import { interleavedToPlanar, resizeBilinear } from '../../engine/data/image.js';

describe('bilinear resize (pixel-centre aligned, as cv2.INTER_LINEAR)', () => {
  it('halving averages each 2x2 block: centres fall exactly between source pixels', () => {
    // 4x4 grey image, values 0..15 row-major. Dest (0,0) samples source (0.5, 0.5) -> mean(0,1,4,5) = 2.5 -> 3.
    const src = Uint8Array.from({ length: 16 }, (_, i) => i * 10);
    const out = resizeBilinear(src, 4, 4, 1, 2, 2);
    // Means of the blocks: (0+10+40+50)/4 = 25, (20+30+60+70)/4 = 45, 105, 125.
    expect([...out]).toEqual([25, 45, 105, 125]);
  });

  it('upscaling 2x1 to 4x1 interpolates at 1/4 and 3/4 and clamps at the border', () => {
    // Dest x samples (x + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25, 0.75, 1.
    expect([...resizeBilinear(Uint8Array.from([0, 100]), 2, 1, 1, 4, 1)]).toEqual([0, 25, 75, 100]);
  });

  it('keeps channels separate, keeps constant images constant, and copies at equal size', () => {
    const src = Uint8Array.from([10, 200, 30, 10, 200, 30, 10, 200, 30, 10, 200, 30, 10, 200, 30, 10, 200, 30]);
    expect([...resizeBilinear(src, 3, 2, 3, 5, 7)]).toEqual(new Array(35).fill([10, 200, 30]).flat());
    const same = resizeBilinear(src, 3, 2, 3, 3, 2);
    expect([...same]).toEqual([...src]);
    expect(same).not.toBe(src);
    expect(() => resizeBilinear(src, 4, 2, 3, 1, 1)).toThrow(/18 bytes for a 4x2x3 image/);
  });
});

describe('interleavedToPlanar', () => {
  it('turns HWC into CHW at an offset', () => {
    const out = new Uint8Array(8);
    // 1x2 RGB: pixel0 = (1,2,3), pixel1 = (4,5,6) -> R plane 1,4; G plane 2,5; B plane 3,6.
    interleavedToPlanar(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 1, 3, out, 2);
    expect([...out]).toEqual([0, 0, 1, 4, 2, 5, 3, 6]);
  });
});
