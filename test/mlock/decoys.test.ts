import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { bankToken, mergeRealStamps, packTokenBank, planDecoys, stampBankCpu, type DecoyPlanInput } from '../../mlock/decoys.js';
import { deriveKeyedToken } from '../../mlock/keyed.js';
import { planEpoch } from '../../mlock/strategies.js';
import { PAPER_TOKEN_NAMES, makeToken, stampCpu, tokenPositions, tokensEqual, type Token } from '../../mlock/tokens.js';
import { randomBytes } from '../helpers/arrays.js';
import { expectBinomial } from '../helpers/stats.js';

const H = 28;
const W = 28;

function unauthorizedMask(n: number, p: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
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
    const images = randomBytes(rng, n * c * H * W);
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
    expect(() => stampBankCpu(img, 2, 3, H, W, bank, Int16Array.from([0, 5]), new Int32Array(4))).toThrow(
      /sample 1 has token index 5, bank has 5/,
    );
    expect(() => stampBankCpu(img, 2, 3, H, W, bank, Int16Array.from([0]), new Int32Array(4))).toThrow(/tokenIndex has 1 values/);
    expect(() => stampBankCpu(img, 2, 3, H, W, bank, Int16Array.from([2, 2]), Int32Array.from([0, 0, 25, 0]))).toThrow(/does not fit/);
    expect(() => stampBankCpu(img, 2, 1, H, W, bank, Int16Array.from([0, 0]), new Int32Array(4))).toThrow(/images has/);
    expect(() => stampBankCpu(new Uint8Array(2 * H * W), 2, 1, H, W, bank, Int16Array.from([0, 0]), new Int32Array(4))).toThrow(
      /bank tokens have 3 channels but the images have 1/,
    );
  });
});

describe('planDecoys', () => {
  const real = makeToken('five-dice', 1);
  const keyedReal = async () => (await deriveKeyedToken('the real key', { channels: 1, H, W })).token;

  it('gives decoys only to unauthorized samples, about decoyRatio of them, a fresh token for most', async () => {
    const token = await keyedReal();
    const n = 4000;
    const unauthorized = unauthorizedMask(n, 0.5, 1);
    const plan = planDecoys({
      unauthorized,
      decoyRatio: 0.6,
      realToken: token,
      placement: { mode: 'at', y: 5, x: 7 },
      levels: 3,
      H,
      W,
      rng: new Rng(2),
    });
    let decoys = 0;
    for (let i = 0; i < n; i++) {
      if (!unauthorized[i]) expect(plan.decoyIndex[i]).toBe(-1);
      if (plan.decoyIndex[i]! >= 0) decoys++;
    }
    const unauth = unauthorized.reduce((s, v) => s + v, 0);
    expectBinomial(decoys, unauth, 0.6);
    expect(plan.realIndex).toBe(0);
    expect(tokensEqual(plan.bank[0]!, token)).toBe(true);
    // Real-token stamps (shifted or far) reuse index 0; every other decoy is its own bank entry.
    const reused = Array.from(plan.decoyIndex).filter((k) => k === 0).length;
    expect(plan.bank.length - 1 + reused).toBe(decoys);
    for (let k = 1; k < plan.bank.length; k++) expect(tokensEqual(plan.bank[k]!, token), `bank entry ${k}`).toBe(false);
  });

  it('the real token appears as a decoy only away from its place; every stamp fits the image', async () => {
    const token = await keyedReal();
    const home = { y: 5, x: 7 };
    const unauthorized = new Uint8Array(3000).fill(1);
    const plan = planDecoys({
      unauthorized,
      decoyRatio: 1,
      realToken: token,
      placement: { mode: 'at', ...home },
      levels: 3,
      H,
      W,
      rng: new Rng(3),
    });
    for (let i = 0; i < unauthorized.length; i++) {
      const k = plan.decoyIndex[i]!;
      const t = plan.bank[k]!;
      const [y, x] = [plan.positions[2 * i]!, plan.positions[2 * i + 1]!];
      expect(y >= 0 && x >= 0 && y + t.h <= H && x + t.w <= W, `sample ${i} at (${y}, ${x})`).toBe(true);
      if (k === 0) expect(y !== home.y || x !== home.x, `sample ${i}: the real token at its own place is no decoy`).toBe(true);
    }
  });

  it('under random placement the real token is never a decoy (it unlocks anywhere)', async () => {
    const token = await keyedReal();
    const plan = planDecoys({
      unauthorized: new Uint8Array(2000).fill(1),
      decoyRatio: 1,
      realToken: token,
      placement: { mode: 'random' },
      levels: 3,
      H,
      W,
      rng: new Rng(4),
    });
    expect(Array.from(plan.decoyIndex).every((k) => k > 0)).toBe(true);
  });

  it('honours decoyRatio 0 and the paper patterns share; same seed same plan, another seed another', () => {
    const input: DecoyPlanInput = {
      unauthorized: new Uint8Array(500).fill(1),
      realToken: real,
      placement: { mode: 'fixed' },
      H,
      W,
      rng: new Rng(5),
    };
    expect(Array.from(planDecoys({ ...input, decoyRatio: 0 }).decoyIndex).every((k) => k === -1)).toBe(true);
    const papers = planDecoys({ ...input, rng: new Rng(6), decoyRatio: 1, paperShare: 1 });
    const names = new Set(PAPER_TOKEN_NAMES.filter((x) => x !== 'five-dice'));
    for (let i = 0; i < 500; i++) expect(names.has(papers.bank[papers.decoyIndex[i]!]!.name as never)).toBe(true);
    const a = planDecoys({ ...input, rng: new Rng(7) });
    const b = planDecoys({ ...input, rng: new Rng(7) });
    const c = planDecoys({ ...input, rng: new Rng(8) });
    expect(a).toEqual(b);
    expect(a.decoyIndex).not.toEqual(c.decoyIndex);
  });

  it('rejects bad input clearly', () => {
    const input: DecoyPlanInput = { unauthorized: new Uint8Array(4), realToken: real, placement: { mode: 'fixed' }, H, W, rng: new Rng(1) };
    expect(() => planDecoys({ ...input, decoyRatio: 2 })).toThrow(/decoyRatio must be in \[0, 1\]/);
    expect(() => planDecoys({ ...input, paperShare: -1 })).toThrow(/paperShare/);
    expect(() => planDecoys({ ...input, unauthorized: [1] as never })).toThrow(/Uint8Array/);
    expect(() => planDecoys({ ...input, realToken: { ...real, pixels: new Uint8Array(2) } })).toThrow(/pixels has 2 values/);
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
    const placement = { mode: 'fixed' as const };
    const plan = planDecoys({ unauthorized: epoch.unauthorized, realToken: real, placement, H, W, rng });
    const realPositions = tokenPositions(placement, real, n, H, W);
    const merged = mergeRealStamps(plan, epoch.stamp, plan.realIndex, realPositions);
    const images = randomBytes(rng, n * c * H * W);
    const onePass = stampBankCpu(images, n, c, H, W, packTokenBank(plan.bank), merged.tokenIndex, merged.positions);

    let twoPass = stampCpu(images, n, c, H, W, real, realPositions, epoch.stamp);
    twoPass = stampBankCpu(twoPass, n, c, H, W, packTokenBank(plan.bank), plan.decoyIndex, plan.positions);
    expect(onePass).toEqual(twoPass);
    for (let i = 0; i < n; i++) if (epoch.stamp[i]) expect(merged.tokenIndex[i]).toBe(plan.realIndex);
    expect(() => mergeRealStamps(plan, new Uint8Array(n).fill(1), plan.realIndex, realPositions)).toThrow(
      /both stamped \(authorized\) and a decoy/,
    );
    expect(() => mergeRealStamps(plan, epoch.stamp, -1, realPositions)).toThrow(/realIndex must be a bank index/);
  });
});
