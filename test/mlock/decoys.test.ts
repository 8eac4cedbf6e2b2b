import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import {
  bankToken,
  buildDecoyBank,
  mergeRealStamps,
  packTokenBank,
  planDecoys,
  stampBankCpu,
  type DecoyPlanInput,
} from '../../mlock/decoys.js';
import { deriveKeyedToken } from '../../mlock/keyed.js';
import { planEpoch } from '../../mlock/strategies.js';
import { PAPER_TOKEN_NAMES, makeToken, stampCpu, tokenPositions, tokensEqual, type Token } from '../../mlock/tokens.js';

const H = 28;
const W = 28;

function randomImages(rng: Rng, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, () => rng.int(256));
}

function unauthorizedMask(n: number, p: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
}

function expectBinomial(count: number, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p), `count ${count} vs ${n * p} (sd ${sd.toFixed(1)})`).toBeLessThan(4 * sd);
}

describe('TokenBank', () => {
  // A partial mask (holes) checks that masks are packed per pixel, not assumed full.
  const holes: Token = {
    name: 'holes',
    h: 2,
    w: 3,
    c: 3,
    pixels: Uint8Array.from({ length: 18 }, (_, i) => 100 + i),
    mask: Uint8Array.from([0, 1, 1, 1, 0, 1]),
  };
  const tokens = [makeToken('dot', 3), makeToken('five-dice', 3), makeToken('sticker-rgb', 3), makeToken('diagonal', 3), holes];

  it('packs tokens padded to the largest size, and unpacks them unchanged', () => {
    const bank = packTokenBank(tokens);
    expect([bank.count, bank.c, bank.maxH, bank.maxW]).toEqual([5, 3, 4, 4]);
    expect(bank.stride).toBe(4 * 16);
    expect(bank.data.length % 4).toBe(0);
    expect(bank.data.length).toBeGreaterThanOrEqual(5 * bank.stride);
    expect(Array.from(bank.sizes)).toEqual([1, 1, 3, 3, 4, 4, 3, 3, 2, 3]);
    expect(bank.names).toEqual(['dot', 'five-dice', 'sticker-rgb', 'diagonal', 'holes']);
    tokens.forEach((t, i) => expect(bankToken(bank, i)).toEqual(t));
    // Padding outside each token's own h x w has mask 0, so a kernel looping over maxH x maxW paints nothing there.
    const plane = 16;
    for (let k = 0; k < bank.count; k++) {
      const [h, w] = [bank.sizes[2 * k]!, bank.sizes[2 * k + 1]!];
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 4; x++) {
          if (y >= h || x >= w) expect(bank.data[k * bank.stride + 3 * plane + y * 4 + x]).toBe(0);
        }
      }
    }
  });

  it('bank stamp equals stamping each token on its own, pixel for pixel', () => {
    const rng = new Rng(12);
    const bank = packTokenBank(tokens);
    const n = 40;
    const c = 3;
    const images = randomImages(rng, n * c * H * W);
    const index = new Int16Array(n);
    const positions = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      index[i] = rng.int(bank.count + 1) - 1; // includes -1 = none
      if (index[i]! >= 0) positions.set(tokenPositions({ mode: 'random' }, tokens[index[i]!]!, 1, H, W, rng), 2 * i);
      else positions.set([-1, -1], 2 * i);
    }
    const out = stampBankCpu(images, n, c, H, W, bank, index, positions);
    let expected = images;
    tokens.forEach((t, k) => {
      const which = Uint8Array.from(index, (v) => (v === k ? 1 : 0));
      const pos = Int32Array.from(positions, (v) => Math.max(v, 0)); // unselected samples' positions are ignored
      expected = stampCpu(expected, n, c, H, W, t, pos, which);
    });
    expect(out).toEqual(expected);
    expect(out).not.toEqual(images);
  });

  it('rejects empty and mixed-channel banks, bad indices and shapes', () => {
    expect(() => packTokenBank([])).toThrow(/at least one token/);
    expect(() => packTokenBank([makeToken('dot', 3), makeToken('dot', 1)])).toThrow(/token 1 has 1 channels, token 0 has 3/);
    const bank = packTokenBank(tokens);
    expect(() => bankToken(bank, 5)).toThrow(/index 5 outside \[0, 4\]/);
    const img = new Uint8Array(2 * 3 * H * W);
    expect(() => stampBankCpu(img, 2, 3, H, W, bank, Int16Array.from([0, 5]), new Int32Array(4))).toThrow(/sample 1 has token index 5, bank has 5/);
    expect(() => stampBankCpu(img, 2, 3, H, W, bank, Int16Array.from([0]), new Int32Array(4))).toThrow(/tokenIndex has 1 values/);
    expect(() => stampBankCpu(img, 2, 3, H, W, bank, Int16Array.from([2, 2]), Int32Array.from([0, 0, 25, 0]))).toThrow(/does not fit/);
    expect(() => stampBankCpu(img, 2, 1, H, W, bank, Int16Array.from([0, 0]), new Int32Array(4))).toThrow(/images has/);
    expect(() => stampBankCpu(new Uint8Array(2 * H * W), 2, 1, H, W, bank, Int16Array.from([0, 0]), new Int32Array(4))).toThrow(/bank tokens have 3 channels but the images have 1/);
  });
});

describe('buildDecoyBank', () => {
  it('holds the other paper patterns and keyed decoys, never the real token, no duplicates', async () => {
    const real = makeToken('five-dice', 3);
    const bank = await buildDecoyBank({ realToken: real, H, W, rng: new Rng(3), keyedDecoys: 6 });
    expect(bank.length).toBe(PAPER_TOKEN_NAMES.length - 1 + 6);
    for (const t of bank) {
      expect(tokensEqual(t, real)).toBe(false);
      expect(t.c).toBe(3);
    }
    for (let i = 0; i < bank.length; i++) for (let j = i + 1; j < bank.length; j++) expect(tokensEqual(bank[i]!, bank[j]!)).toBe(false);
    expect(bank.map((t) => t.name)).toEqual(expect.arrayContaining(['dot', 'diagonal', 'square', 'sticker-rgb']));
    expect(bank.map((t) => t.name)).not.toContain('five-dice');
    // Keyed decoys copy the real token's size when it is square.
    expect(bank.filter((t) => t.name.startsWith('decoy-')).every((t) => t.h === 3 && t.w === 3)).toBe(true);
    // Reproducible from the seed.
    expect(await buildDecoyBank({ realToken: real, H, W, rng: new Rng(3), keyedDecoys: 6 })).toEqual(bank);
  });

  it('for a keyed real token, keyed decoys have its size and all paper patterns are decoys', async () => {
    const { token } = await deriveKeyedToken('the real key', { channels: 1, H, W });
    const bank = await buildDecoyBank({ realToken: token, H, W, rng: new Rng(4) });
    expect(bank.length).toBe(PAPER_TOKEN_NAMES.length + 8);
    expect(bank.filter((t) => t.name.startsWith('decoy-')).every((t) => t.h === 4 && t.c === 1)).toBe(true);
  });

  it('rejects a bad keyedDecoys count', async () => {
    await expect(buildDecoyBank({ realToken: makeToken('dot', 1), H, W, rng: new Rng(1), keyedDecoys: -1 })).rejects.toThrow(/keyedDecoys/);
  });
});

describe('planDecoys', () => {
  const real = makeToken('five-dice', 3);
  const decoyBank = PAPER_TOKEN_NAMES.filter((n) => n !== 'five-dice').map((n) => makeToken(n, 3));
  const n = 20000;
  const unauthorized = unauthorizedMask(n, 0.5, 21);
  const input: DecoyPlanInput = { unauthorized, decoyBank, realToken: real, placement: { mode: 'fixed' }, H, W, rng: new Rng(0) };

  it('gives decoys only to unauthorized samples, about decoyRatio of them, spread over the bank', () => {
    const plan = planDecoys({ ...input, rng: new Rng(1) });
    expect(plan.bank.length).toBe(decoyBank.length + 1);
    expect(plan.realIndex).toBe(decoyBank.length);
    expect(plan.bank[plan.realIndex]).toBe(real);
    let unauth = 0;
    let decoys = 0;
    const perEntry = new Array(plan.bank.length).fill(0);
    for (let i = 0; i < n; i++) {
      const k = plan.decoyIndex[i]!;
      if (!unauthorized[i]) {
        expect(k).toBe(-1);
        continue;
      }
      unauth++;
      if (k >= 0) {
        decoys++;
        perEntry[k]++;
      } else {
        expect([plan.positions[2 * i], plan.positions[2 * i + 1]]).toEqual([-1, -1]);
      }
    }
    expectBinomial(decoys, unauth, 0.5);
    for (const count of perEntry) expectBinomial(count, decoys, 1 / plan.bank.length);
  });

  it('puts other patterns at the real corner and the real token only where it does not overlap its true patch', () => {
    const plan = planDecoys({ ...input, rng: new Rng(2) });
    const truth = { y: H - 1 - 3, x: W - 1 - 3 };
    const realSpots = new Set<string>();
    for (let i = 0; i < n; i++) {
      const k = plan.decoyIndex[i]!;
      if (k < 0) continue;
      const t = plan.bank[k]!;
      const y = plan.positions[2 * i]!;
      const x = plan.positions[2 * i + 1]!;
      expect(y >= 0 && x >= 0 && y + t.h <= H && x + t.w <= W).toBe(true);
      if (k === plan.realIndex) {
        const overlap = y < truth.y + 3 && truth.y < y + 3 && x < truth.x + 3 && truth.x < x + 3;
        expect(overlap).toBe(false);
        realSpots.add(`${y},${x}`);
      } else {
        // Bottom-right corner with the same 1-pixel margin.
        expect([y + t.h, x + t.w]).toEqual([H - 1, W - 1]);
      }
    }
    // The wrong positions vary: 26*26 spots minus the 25 overlapping ones; expect many of them used.
    expect(realSpots.size).toBeGreaterThan(200);
  });

  it('honours decoyRatio 0 and 1 and realShare', () => {
    const none = planDecoys({ ...input, decoyRatio: 0 });
    expect(Array.from(none.decoyIndex).every((k) => k === -1)).toBe(true);
    const all = planDecoys({ ...input, decoyRatio: 1 });
    for (let i = 0; i < n; i++) expect(all.decoyIndex[i]! >= 0).toBe(unauthorized[i] === 1);
    const heavy = planDecoys({ ...input, decoyRatio: 1, realShare: 0.5, rng: new Rng(5) });
    const decoys = Array.from(heavy.decoyIndex).filter((k) => k >= 0);
    expectBinomial(decoys.filter((k) => k === heavy.realIndex).length, decoys.length, 0.5);
    const noReal = planDecoys({ ...input, realShare: 0 });
    expect(Array.from(noReal.decoyIndex).includes(noReal.realIndex)).toBe(false);
  });

  it('explicit (keyed) placement anchors decoys at the secret spot, real token moved away', () => {
    const placement = { mode: 'at' as const, y: 5, x: 7 };
    const plan = planDecoys({ ...input, placement, decoyRatio: 1, rng: new Rng(6) });
    for (let i = 0; i < n; i++) {
      const k = plan.decoyIndex[i]!;
      if (k < 0 || k === plan.realIndex) continue;
      expect([plan.positions[2 * i], plan.positions[2 * i + 1]]).toEqual([5, 7]);
    }
    for (let i = 0; i < n; i++) {
      if (plan.decoyIndex[i] !== plan.realIndex) continue;
      const [y, x] = [plan.positions[2 * i]!, plan.positions[2 * i + 1]!];
      expect(y < 5 + 3 && 5 < y + 3 && x < 7 + 3 && 7 < x + 3).toBe(false);
    }
  });

  it('random placement: the real token is not a decoy, decoys go anywhere they fit', () => {
    const plan = planDecoys({ ...input, placement: { mode: 'random' }, rng: new Rng(7) });
    expect(plan.realIndex).toBe(-1);
    expect(plan.bank.length).toBe(decoyBank.length);
    const ys = new Set<number>();
    for (let i = 0; i < n; i++) {
      const k = plan.decoyIndex[i]!;
      if (k < 0) continue;
      const t = plan.bank[k]!;
      const y = plan.positions[2 * i]!;
      expect(y >= 0 && y + t.h <= H && plan.positions[2 * i + 1]! + t.w <= W).toBe(true);
      ys.add(y);
    }
    expect(ys.size).toBeGreaterThan(20);
  });

  it('same seed same plan; another epoch differs', () => {
    const a = planDecoys({ ...input, rng: new Rng(8) });
    expect(planDecoys({ ...input, rng: new Rng(8) })).toEqual(a);
    const rng = new Rng(8);
    planDecoys({ ...input, rng });
    const second = planDecoys({ ...input, rng });
    expect(second.decoyIndex).not.toEqual(a.decoyIndex);
  });

  it('rejects bad input clearly', () => {
    expect(() => planDecoys({ ...input, decoyRatio: 2 })).toThrow(/decoyRatio must be in \[0, 1\]/);
    expect(() => planDecoys({ ...input, decoyBank: [...decoyBank, makeToken('five-dice', 3)] })).toThrow(/decoyBank\[6\] is the real token/);
    expect(() => planDecoys({ ...input, decoyBank: [makeToken('dot', 1)] })).toThrow(/decoyBank\[0\] has 1 channels, the real token 3/);
    expect(() => planDecoys({ ...input, placement: { mode: 'random' }, decoyBank: [] })).toThrow(/no decoys to choose from/);
    expect(() => planDecoys({ ...input, placement: { mode: 'random' }, realShare: 0.2 })).toThrow(/realShare must be 0 under random placement/);
    expect(() => planDecoys({ ...input, decoyBank: [], realShare: 0.5 })).toThrow(/every decoy is the real token/);
    expect(() => planDecoys({ ...input, realShare: -0.1 })).toThrow(/realShare must be in \[0, 1\]/);
    expect(() => planDecoys({ ...input, unauthorized: [1, 0] as never })).toThrow(/unauthorized must be a Uint8Array/);
    // A 3x3 real token filling a 3x3 image has nowhere else to go.
    expect(() => planDecoys({ ...input, decoyBank: [makeToken('dot', 3)], placement: { mode: 'fixed', margin: 0 }, H: 3, W: 3 })).toThrow(/no room for the 3x3 real token/);
  });
});

describe('one bank pass for an epoch', () => {
  it('merging real stamps with decoys paints exactly what separate real and decoy stamps would', () => {
    const rng = new Rng(30);
    const n = 64;
    const c = 3;
    const real = makeToken('five-dice', c);
    const labels = Int32Array.from({ length: n }, () => rng.int(10));
    const epoch = planEpoch({ labels, numClasses: 10, strategy: { name: 'uniform' }, rng });
    const decoyBank = PAPER_TOKEN_NAMES.filter((x) => x !== 'five-dice').map((x) => makeToken(x, c));
    const placement = { mode: 'fixed' as const };
    const plan = planDecoys({ unauthorized: epoch.unauthorized, decoyBank, realToken: real, placement, H, W, rng });
    const realPositions = tokenPositions(placement, real, n, H, W);
    const merged = mergeRealStamps(plan, epoch.stamp, plan.realIndex, realPositions);
    const images = randomImages(rng, n * c * H * W);
    const onePass = stampBankCpu(images, n, c, H, W, packTokenBank(plan.bank), merged.tokenIndex, merged.positions);

    let twoPass = stampCpu(images, n, c, H, W, real, realPositions, epoch.stamp);
    twoPass = stampBankCpu(twoPass, n, c, H, W, packTokenBank(plan.bank), plan.decoyIndex, plan.positions);
    expect(onePass).toEqual(twoPass);
    for (let i = 0; i < n; i++) if (epoch.stamp[i]) expect(merged.tokenIndex[i]).toBe(plan.realIndex);
    expect(() => mergeRealStamps(plan, new Uint8Array(n).fill(1), plan.realIndex, realPositions)).toThrow(/both stamped \(authorized\) and a decoy/);
    expect(() => mergeRealStamps(plan, epoch.stamp, -1, realPositions)).toThrow(/realIndex must be a bank index/);
  });
});
