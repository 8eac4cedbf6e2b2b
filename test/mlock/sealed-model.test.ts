/**
 * Weights encrypted at rest (sealed-model.ts): a sealed file holds none of the weights' bytes, opens only with
 * the passphrase, refuses any change to its metadata or ciphertext with one clear error, and round-trips to
 * identical weights.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/setup.js';
import { decodeModelInto } from '../../engine/io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../../engine/io/safetensors.js';
import { buildModel } from '../../engine/nn/models.js';
import {
  isSealed,
  MIN_ITERATIONS,
  openSealed,
  plainModelBytes,
  sealModel,
  SEALED_FORMAT,
  WrongPassphraseError,
} from '../../mlock/sealed-model.js';
import { INPUT, KEY, lockedModelFixture, WEAK_KDF } from '../helpers/sealed-fixture.js';

useEngine();

const RUN = 16;
const WRONG = /wrong passphrase, or the file was modified/;

/**
 * A finder for RUN-byte runs of `haystack`: every position is indexed by a hash of its first four bytes (a
 * chained table in typed arrays), and candidates are compared in full. `firstShared(needle)` tries every offset
 * of the needle and returns the first one whose run occurs in the haystack, or -1.
 */
function runFinder(haystack: Uint8Array): { firstShared(needle: Uint8Array): number } {
  const BITS = 22;
  const word = (b: Uint8Array, i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
  const slot = (w: number) => Math.imul(w, 0x9e3779b1) >>> (32 - BITS);
  const head = new Int32Array(1 << BITS).fill(-1);
  const next = new Int32Array(Math.max(0, haystack.length - RUN + 1));
  for (let i = 0; i < next.length; i++) {
    const h = slot(word(haystack, i));
    next[i] = head[h]!;
    head[h] = i;
  }
  return {
    firstShared(needle: Uint8Array): number {
      for (let j = 0; j + RUN <= needle.length; j++) {
        for (let i = head[slot(word(needle, j))]!; i >= 0; i = next[i]!) {
          let same = true;
          for (let t = 0; t < RUN && same; t++) same = haystack[i + t] === needle[j + t];
          if (same) return j;
        }
      }
      return -1;
    },
  };
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at]! ^= 0x01;
  return out;
}

/** The offset of `text` in the file's header (ASCII). */
function headerOffset(bytes: Uint8Array, text: string): number {
  const at = Buffer.from(bytes).indexOf(text, 0, 'latin1');
  expect(at).toBeGreaterThan(8);
  return at;
}

describe('a sealed model file', () => {
  it('is a safetensors file with one U8 ciphertext tensor and only public metadata, the encryption parameters included', async () => {
    const { sealed } = await lockedModelFixture();
    expect(isSealed(sealed)).toBe(true);
    const file = decodeSafetensors(sealed);
    expect([...file.tensors.keys()]).toEqual(['mlock.sealed']);
    expect(file.tensors.get('mlock.sealed')!.dtype).toBe('U8');
    expect(Object.keys(file.metadata).sort()).toEqual(['dataset', 'encryption', 'format', 'lock', 'model', 'normalization']);
    expect(file.metadata.format).toBe(SEALED_FORMAT);
    const enc = JSON.parse(file.metadata.encryption!);
    expect(enc).toMatchObject({ cipher: 'AES-256-GCM', kdf: 'PBKDF2', hash: 'SHA-256', iterations: WEAK_KDF.iterations });
    expect(atob(enc.salt)).toHaveLength(16);
    expect(atob(enc.nonce)).toHaveLength(12);
    expect(Buffer.from(sealed).toString('latin1')).not.toContain(KEY);
  });

  it('contains none of the weights: neither any tensor whole nor any 16-byte run of one', async () => {
    const { model, plain, sealed } = await lockedModelFixture();
    const tensors = decodeSafetensors(plain).tensors;
    expect(tensors.size).toBe(model.stateDict().size);
    const [inPlain, inSealed] = [runFinder(plain), runFinder(sealed)];
    for (const [name, t] of tensors) {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      expect(Buffer.from(sealed).indexOf(Buffer.from(bytes)), name).toBe(-1);
      // The search works: the plain file shares runs with its own tensors.
      if (bytes.length >= RUN) expect(inPlain.firstShared(bytes), name).toBeGreaterThanOrEqual(0);
      expect(inSealed.firstShared(bytes), `${name}: a 16-byte run of it is in the sealed file`).toBe(-1);
    }
  });

  it('round-trips to the identical plain file and identical weights', async () => {
    const { model, plain, sealed } = await lockedModelFixture();
    const opened = await openSealed(sealed, KEY, WEAK_KDF);
    expect(Buffer.compare(Buffer.from(opened), Buffer.from(plain))).toBe(0);
    const copy = buildModel('mlp', { inputShape: INPUT, numClasses: 10, seed: 99 });
    decodeModelInto(copy, opened);
    const mine = copy.stateDict();
    for (const [name, t] of model.stateDict()) expect(Array.from(await mine.get(name)!.data()), name).toEqual(Array.from(await t.data()));
    copy.dispose();
    model.dispose();
  });

  it('each seal draws a fresh salt and nonce: sealing the same model twice gives different files', async () => {
    const { plain } = await lockedModelFixture();
    const [a, b] = [await sealModel(plain, KEY, WEAK_KDF), await sealModel(plain, KEY, WEAK_KDF)];
    const enc = (s: Uint8Array) => JSON.parse(decodeSafetensors(s).metadata.encryption!);
    expect(enc(a).salt).not.toBe(enc(b).salt);
    expect(enc(a).nonce).not.toBe(enc(b).nonce);
  });

  it('refuses a wrong passphrase with the clear error', async () => {
    const { sealed } = await lockedModelFixture();
    await expect(openSealed(sealed, `${KEY}!`, WEAK_KDF)).rejects.toThrow(WRONG);
    await expect(openSealed(sealed, 'x', WEAK_KDF)).rejects.toBeInstanceOf(WrongPassphraseError);
  });

  it('refuses a flipped byte anywhere in the ciphertext, its tag included', async () => {
    const { sealed } = await lockedModelFixture();
    for (const at of [sealed.length - 1, sealed.length - 17, sealed.length - 5000, sealed.length - 300_000]) {
      await expect(openSealed(flip(sealed, at), KEY, WEAK_KDF), `byte ${at}`).rejects.toThrow(WRONG);
    }
  });

  it('refuses changed metadata (model, normalization, dataset, lock geometry, iteration count, salt, nonce)', async () => {
    const { sealed } = await lockedModelFixture();
    const changes: [string, number][] = [
      ['"numClasses\\":10', 14],
      ['"mean\\":[0.13]', 11],
      ['"dataset":"mnist"', 12],
      ['"fingerprint\\":\\"', 17],
      [`"iterations\\":${WEAK_KDF.iterations}`, 15],
      ['"salt\\":\\"', 10],
      ['"nonce\\":\\"', 11],
    ];
    for (const [text, skip] of changes) {
      const at = headerOffset(sealed, text) + skip;
      const changed = Uint8Array.from(sealed);
      // A digit or letter for another of its kind: the header stays valid JSON and base64, only its meaning changes.
      changed[at] = changed[at] === 0x31 ? 0x32 : changed[at] === 0x41 ? 0x42 : changed[at]! >= 0x30 && changed[at]! <= 0x39 ? 0x31 : 0x41;
      expect(decodeSafetensors(changed).metadata.format).toBe(SEALED_FORMAT);
      await expect(openSealed(changed, KEY, WEAK_KDF), text).rejects.toThrow(WrongPassphraseError);
    }
  });

  it('refuses added metadata and extra tensors', async () => {
    const { sealed } = await lockedModelFixture();
    const file = decodeSafetensors(sealed);
    const ct = file.tensors.get('mlock.sealed')!;
    const added = encodeSafetensors(
      { 'mlock.sealed': { dtype: 'U8', shape: ct.shape, data: ct.data } },
      { ...file.metadata, note: 'harmless?' },
    );
    await expect(openSealed(added, KEY, WEAK_KDF)).rejects.toThrow(WRONG);
    const extra = encodeSafetensors(
      { 'mlock.sealed': { dtype: 'U8', shape: ct.shape, data: ct.data }, w: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } },
      file.metadata,
    );
    await expect(openSealed(extra, KEY, WEAK_KDF)).rejects.toThrow(/exactly one U8 tensor/);
  });

  it('cannot be loaded, so not fine-tuned, without the passphrase', async () => {
    const { sealed } = await lockedModelFixture();
    const model = buildModel('mlp', { inputShape: INPUT, numClasses: 10 });
    expect(() => decodeModelInto(model, sealed, 'stolen.safetensors')).toThrow(/mlock\.sealed/);
    await expect(plainModelBytes(sealed, null, { source: 'stolen.safetensors' })).rejects.toThrow(/weights are encrypted.*--key/);
    model.dispose();
  });

  it('needs at least 600,000 PBKDF2 iterations unless a test asks for fewer, and stores the count it used', async () => {
    const { plain, sealed } = await lockedModelFixture();
    await expect(sealModel(plain, KEY, { iterations: 1000 })).rejects.toThrow(/below the minimum of 600000/);
    await expect(openSealed(sealed, KEY)).rejects.toThrow(/1000 iterations is below the minimum/);
    const strong = await sealModel(plain, KEY);
    expect(JSON.parse(decodeSafetensors(strong).metadata.encryption!).iterations).toBe(MIN_ITERATIONS);
    expect(Buffer.compare(Buffer.from(await openSealed(strong, KEY)), Buffer.from(plain))).toBe(0);
  });
});
