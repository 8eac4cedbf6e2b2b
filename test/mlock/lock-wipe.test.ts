/**
 * Locking wipes (runtime.ts): while locked a LockedModel holds only the sealed bytes. After lock() and after
 * the idle timeout, the former weight buffers read back as zeros, the key bytes, the token and the decrypted
 * plaintext are zero-filled, and predict() refuses; unlock() re-opens from the ciphertext.
 */
import { describe, expect, it, vi } from 'vitest';
import { useEngine } from '../helpers/setup.js';
import { runtime } from '../../engine/index.js';
import type { Module } from '../../engine/nn/module.js';
import { LockedModel, type LockedModelOptions } from '../../mlock/runtime.js';
import * as sealedModel from '../../mlock/sealed-model.js';
import { INPUT, KEY, lockedModelFixture, WEAK_KDF } from '../helpers/sealed-fixture.js';

/** Every plaintext openSealed hands out, so the test can check that the runtime wiped it. */
vi.mock('../../mlock/sealed-model.js', async (original) => {
  const real = await original<typeof import('../../mlock/sealed-model.js')>();
  const opened: Uint8Array[] = [];
  return {
    ...real,
    opened,
    openSealed: async (...args: Parameters<typeof real.openSealed>) => {
      const p = await real.openSealed(...args);
      opened.push(p);
      return p;
    },
  };
});
const opened = (sealedModel as unknown as { opened: Uint8Array[] }).opened;

useEngine();

const N = 4;
const IMAGES = Uint8Array.from({ length: N * INPUT[1] * INPUT[2] }, (_, i) => (i * 37) % 256);

interface Internals {
  keyBytes: Uint8Array | null;
  token: { pixels: Uint8Array; mask: Uint8Array } | null;
  model: Module | null;
}

async function open(options: LockedModelOptions = {}) {
  const { sealed } = await lockedModelFixture();
  return LockedModel.load(sealed, { idleMs: 0, kdf: WEAK_KDF, ...options }, 'test model');
}

/** The key, token and weight buffers an unlocked model holds, and the bytes each buffer holds now. */
function heldSecrets(model: LockedModel) {
  const held = model as unknown as Internals;
  const weights = [...held.model!.stateDict().values()].map((t) => ({ buffer: t.buffer(), bytes: t.size * 4 }));
  return { key: held.keyBytes!, pixels: held.token!.pixels, mask: held.token!.mask, weights };
}

async function allZero(weights: { buffer: GPUBuffer; bytes: number }[]): Promise<boolean> {
  for (const w of weights) if (!new Uint8Array(await runtime().read(w.buffer, w.bytes)).every((b) => b === 0)) return false;
  return true;
}

describe('LockedModel with a sealed file', () => {
  it('refuses to predict while locked and refuses a wrong passphrase, holding nothing', async () => {
    const model = await open();
    expect(model.holdsWeights()).toBe(false);
    await expect(model.predict(IMAGES, N)).rejects.toThrow(/locked: unlock with the key\/passphrase/);
    await expect(model.unlock('not the key')).rejects.toThrow(/wrong passphrase, or the file was modified/);
    expect(model.isUnlocked).toBe(false);
    expect(model.holdsKeyMaterial()).toBe(false);
    expect(model.holdsWeights()).toBe(false);
    await expect(model.predict(IMAGES, N)).rejects.toThrow(/locked/);
  });

  it('lock() zero-fills the weight buffers, the key, the token and the plaintext; unlock() re-opens from the ciphertext', async () => {
    let locks = 0;
    const model = await open({ onLock: () => locks++ });
    opened.length = 0;
    await model.unlock(KEY);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.every((b) => b === 0)).toBe(true);
    const first = await model.predict(IMAGES, N);
    expect(first.unlocked).toBe(true);
    const secrets = heldSecrets(model);
    expect(secrets.key.some((b) => b !== 0) && secrets.pixels.some((b) => b !== 0)).toBe(true);
    expect(await allZero(secrets.weights)).toBe(false);

    model.lock();
    expect(locks).toBe(1);
    expect(model.holdsKeyMaterial() || model.holdsWeights()).toBe(false);
    expect(secrets.key.every((b) => b === 0)).toBe(true);
    expect(secrets.pixels.every((b) => b === 0) && secrets.mask.every((b) => b === 0)).toBe(true);
    expect(await allZero(secrets.weights)).toBe(true);
    await expect(model.predict(IMAGES, N)).rejects.toThrow(/locked: unlock with the key\/passphrase/);

    await model.unlock(KEY);
    const again = await model.predict(IMAGES, N);
    expect(Array.from(again.probabilities)).toEqual(Array.from(first.probabilities));
    model.dispose();
  });

  it('the idle timeout wipes the same way', async () => {
    const model = await open({ idleMs: 100 });
    await model.unlock(KEY);
    const secrets = heldSecrets(model);
    await new Promise((r) => setTimeout(r, 250));
    expect(model.isUnlocked || model.holdsWeights()).toBe(false);
    expect(secrets.key.every((b) => b === 0) && secrets.pixels.every((b) => b === 0)).toBe(true);
    expect(await allZero(secrets.weights)).toBe(true);
    model.dispose();
  });

  it('answers without the token on request while unlocked', async () => {
    const model = await open();
    await model.unlock(KEY);
    const without = await model.predict(IMAGES, N, { withToken: false });
    expect(without.unlocked).toBe(false);
    expect((await model.predict(IMAGES, N)).unlocked).toBe(true);
    model.dispose();
  });

  it("keepServingWhenLocked (the paper's behaviour) wipes key and token but keeps the weights and answers token-free", async () => {
    const model = await open({ keepServingWhenLocked: true });
    await model.unlock(KEY);
    const secrets = heldSecrets(model);
    model.lock();
    expect(model.holdsKeyMaterial()).toBe(false);
    expect(secrets.key.every((b) => b === 0)).toBe(true);
    expect(model.holdsWeights()).toBe(true);
    expect(await allZero(secrets.weights)).toBe(false);
    expect((await model.predict(IMAGES, N)).unlocked).toBe(false);
    model.dispose();
    expect(await allZero(secrets.weights)).toBe(true);
  });

  it('opens only sealed files', async () => {
    const { plain } = await lockedModelFixture();
    expect(() => LockedModel.load(plain, {}, 'export.safetensors')).toThrow(/not sealed/);
  });
});
