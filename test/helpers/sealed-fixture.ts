/**
 * A small keyed locked model file, sealed with a cheap KDF, for tests that need one without training: a
 * freshly initialised MLP (its weights are as secret as trained ones for what these tests check) with the
 * metadata a training run writes.
 */
import { encodeModel } from '../../engine/io/checkpoint.js';
import { buildModel } from '../../engine/nn/models.js';
import type { Module } from '../../engine/nn/module.js';
import { tokenGeometry } from '../../mlock/keyed.js';
import { sealModel, type KdfOptions } from '../../mlock/sealed-model.js';
import { resolveToken } from '../../mlock/token-spec.js';

export const KEY = 'correct horse battery staple';
/** Tests only: sealing at 600,000 PBKDF2 iterations would cost about a second per file. */
export const WEAK_KDF: KdfOptions = { iterations: 1000, weakKdfForTests: true };
export const INPUT: [number, number, number] = [1, 28, 28];

export async function lockedModelFixture(seed = 3): Promise<{ model: Module; plain: Uint8Array; sealed: Uint8Array }> {
  const model = buildModel('mlp', { inputShape: INPUT, numClasses: 10, seed });
  const { token, placement, levels } = await resolveToken({ key: KEY }, INPUT[0], INPUT[1], INPUT[2]);
  const metadata = {
    format: 'mlock-webgpu/1',
    model: JSON.stringify({ name: 'mlp', inputShape: INPUT, numClasses: 10 }),
    normalization: JSON.stringify({ mean: [0.13], std: [0.31] }),
    dataset: 'mnist',
    lock: JSON.stringify({ required: true, strategy: 'random-label', geometry: tokenGeometry(token, placement, levels), keyed: true }),
  };
  const plain = await encodeModel(model, metadata);
  return { model, plain, sealed: await sealModel(plain, KEY, WEAK_KDF) };
}
