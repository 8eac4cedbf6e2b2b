/**
 * Weights encrypted at rest: a sealed model file. It is still a valid safetensors file, so tools can list it,
 * but it holds one U8 tensor, `mlock.sealed`, the AES-256-GCM ciphertext of the plain safetensors model
 * (weights and all metadata), and as public metadata only what opening it needs:
 *
 *   format         'mlock-webgpu/sealed-1'
 *   model, normalization, dataset, lock   copied from the plain model when present (never the key)
 *   encryption     JSON {cipher, kdf, hash, iterations, salt, nonce} (salt and nonce in base64)
 *
 * The AES key comes from the passphrase through PBKDF2-SHA256 with a random 16-byte salt per file; the token
 * comes from the same passphrase through HMAC in keyed.ts. The two are domain separated: PBKDF2 with its own
 * random salt and a key that is never used for anything else. The whole public metadata, canonical JSON,
 * is the GCM additional data, so changing any of it (the lock geometry, the iteration count, ...) fails
 * authentication like changing the ciphertext does. Only WebCrypto is used: the same code runs in Node 20 and
 * in browsers.
 */
import { decodeSafetensors, encodeSafetensors } from '../engine/io/index.js';
import { wipe } from './keyed.js';

export const SEALED_FORMAT = 'mlock-webgpu/sealed-1';
const SEALED_TENSOR = 'mlock.sealed';
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; nothing outside tests may seal or open with fewer. */
export const MIN_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
/** Plain-model metadata that stays readable: what a user needs to know before unlocking, never secrets. */
const PUBLIC_FIELDS = ['model', 'normalization', 'dataset', 'lock'] as const;

export interface EncryptionParams {
  cipher: 'AES-256-GCM';
  kdf: 'PBKDF2';
  hash: 'SHA-256';
  iterations: number;
  /** base64 */
  salt: string;
  /** base64 */
  nonce: string;
}

export interface KdfOptions {
  /** PBKDF2 iterations when sealing (default and minimum MIN_ITERATIONS). */
  iterations?: number;
  /** Allow fewer than MIN_ITERATIONS, when sealing and when opening. For tests only: such files are cheap to brute-force. */
  weakKdfForTests?: boolean;
}

/** The error for a wrong passphrase and for any change to the file: GCM cannot tell them apart, and neither do we. */
export class WrongPassphraseError extends Error {
  override name = 'WrongPassphraseError';
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s)
    throw new Error(
      'sealed model: WebCrypto (globalThis.crypto.subtle) is not available; use a secure context (https, localhost) or Node >= 20',
    );
  return s;
}

function checkIterations(iterations: number, options: KdfOptions, source: string): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw new Error(`${source}: PBKDF2 iteration count ${iterations} is not a positive integer`);
  if (iterations < MIN_ITERATIONS && !options.weakKdfForTests) {
    throw new Error(`${source}: PBKDF2 with ${iterations} iterations is below the minimum of ${MIN_ITERATIONS} (only tests may use fewer)`);
  }
}

async function deriveAesKey(passphrase: string | Uint8Array, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<CryptoKey> {
  const raw = typeof passphrase === 'string' ? new TextEncoder().encode(passphrase) : new Uint8Array(passphrase);
  if (raw.length === 0) throw new Error('sealed model: the passphrase must not be empty');
  try {
    const base = await subtle().importKey('raw', raw, 'PBKDF2', false, ['deriveKey']);
    // Non-extractable: the AES key can encrypt and decrypt, but its bytes cannot be read back out.
    return await subtle().deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, base, { name: 'AES-GCM', length: 256 }, false, [
      'encrypt',
      'decrypt',
    ]);
  } finally {
    wipe(raw);
  }
}

/** JSON with object keys sorted at every level: the bytes both sides authenticate. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function additionalData(metadata: Record<string, string>): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(canonicalJson(metadata));
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string, what: string, bytes: number, source: string): Uint8Array<ArrayBuffer> {
  let raw: string;
  try {
    raw = atob(text);
  } catch {
    throw new WrongPassphraseError(`${source}: encryption ${what} is not base64: the file was modified`);
  }
  if (raw.length !== bytes)
    throw new WrongPassphraseError(`${source}: encryption ${what} has ${raw.length} bytes, expected ${bytes}: the file was modified`);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/**
 * Seals plain model files under one passphrase-derived key and one salt: the key is derived once (the costly
 * part) and every `seal` uses a fresh random nonce. Use one sealer per file (a checkpoint rewritten every
 * epoch keeps its salt; a different file gets its own sealer and salt).
 */
export class ModelSealer {
  private key: Promise<CryptoKey> | null = null;
  private readonly salt: Uint8Array<ArrayBuffer> = globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  private readonly iterations: number;
  private readonly passphrase: Uint8Array;

  constructor(passphrase: string | Uint8Array, options: KdfOptions = {}) {
    this.iterations = options.iterations ?? MIN_ITERATIONS;
    checkIterations(this.iterations, options, 'seal');
    this.passphrase = typeof passphrase === 'string' ? new TextEncoder().encode(passphrase) : Uint8Array.from(passphrase);
    if (this.passphrase.length === 0) throw new Error('seal: the passphrase must not be empty');
  }

  /** The sealed file for `plain` (a plain safetensors model or training checkpoint). */
  async seal(plain: Uint8Array): Promise<Uint8Array> {
    const inner = decodeSafetensors(plain, 'seal: plain model').metadata;
    this.key ??= deriveAesKey(this.passphrase, this.salt, this.iterations);
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const encryption: EncryptionParams = {
      cipher: 'AES-256-GCM',
      kdf: 'PBKDF2',
      hash: 'SHA-256',
      iterations: this.iterations,
      salt: toBase64(this.salt),
      nonce: toBase64(nonce),
    };
    const metadata: Record<string, string> = { format: SEALED_FORMAT };
    for (const f of PUBLIC_FIELDS) if (inner[f] !== undefined) metadata[f] = inner[f]!;
    metadata.encryption = JSON.stringify(encryption);
    const ciphertext = new Uint8Array(
      await subtle().encrypt(
        { name: 'AES-GCM', iv: nonce, additionalData: additionalData(metadata) },
        await this.key,
        plain as Uint8Array<ArrayBuffer>,
      ),
    );
    return encodeSafetensors({ [SEALED_TENSOR]: { dtype: 'U8', shape: [ciphertext.length], data: ciphertext } }, metadata);
  }

  /** Forget the passphrase copy (the derived CryptoKey is non-extractable and goes with this object). */
  wipe(): void {
    wipe(this.passphrase);
    this.key = null;
  }
}

/** Seal one file with a fresh salt and nonce. */
export async function sealModel(plain: Uint8Array, passphrase: string | Uint8Array, options: KdfOptions = {}): Promise<Uint8Array> {
  const sealer = new ModelSealer(passphrase, options);
  try {
    return await sealer.seal(plain);
  } finally {
    sealer.wipe();
  }
}

/** The metadata of a safetensors file, or null when it is not one; cheap (no tensor is decoded). */
function headerMetadata(bytes: Uint8Array): Record<string, unknown> | null {
  if (bytes.length < 8) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (n > bytes.length - 8) return null;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as { __metadata__?: Record<string, unknown> };
    return header.__metadata__ ?? {};
  } catch {
    return null;
  }
}

/** Whether `bytes` is a sealed model file (by its format field). */
export function isSealed(bytes: Uint8Array): boolean {
  return headerMetadata(bytes)?.format === SEALED_FORMAT;
}

export interface SealedFile {
  /** The public metadata (format, model, normalization, dataset, lock, encryption), unauthenticated until opened. */
  metadata: Record<string, string>;
  encryption: EncryptionParams;
  ciphertext: Uint8Array;
}

/** Parse and validate a sealed file's structure (no passphrase needed, nothing decrypted). */
export function readSealed(bytes: Uint8Array, source = 'sealed model'): SealedFile {
  const file = decodeSafetensors(bytes, source);
  const { metadata } = file;
  if (metadata.format !== SEALED_FORMAT)
    throw new Error(`${source}: not a sealed model file (format ${JSON.stringify(metadata.format ?? null)}, expected '${SEALED_FORMAT}')`);
  const names = [...file.tensors.keys()];
  const sealed = file.tensors.get(SEALED_TENSOR);
  if (names.length !== 1 || !sealed || sealed.dtype !== 'U8' || sealed.shape.length !== 1) {
    throw new WrongPassphraseError(
      `${source}: a sealed file holds exactly one U8 tensor '${SEALED_TENSOR}' (found ${names.join(', ') || 'none'}): the file was modified`,
    );
  }
  let encryption: EncryptionParams;
  try {
    encryption = JSON.parse(metadata.encryption ?? '') as EncryptionParams;
  } catch {
    throw new WrongPassphraseError(`${source}: the 'encryption' metadata is missing or not JSON: the file was modified`);
  }
  if (encryption.cipher !== 'AES-256-GCM' || encryption.kdf !== 'PBKDF2' || encryption.hash !== 'SHA-256') {
    throw new Error(
      `${source}: encrypted with ${encryption.cipher}/${encryption.kdf}-${encryption.hash}; this build reads AES-256-GCM with PBKDF2-SHA-256`,
    );
  }
  return { metadata, encryption, ciphertext: sealed.data as Uint8Array };
}

/**
 * Decrypt a sealed file: the plain safetensors model bytes (the caller zero-fills them when done). A wrong
 * passphrase or any change to the file (metadata or ciphertext) throws WrongPassphraseError and returns nothing.
 */
export async function openSealed(
  bytes: Uint8Array,
  passphrase: string | Uint8Array,
  options: KdfOptions & { source?: string } = {},
): Promise<Uint8Array> {
  const source = options.source ?? 'sealed model';
  const { metadata, encryption, ciphertext } = readSealed(bytes, source);
  checkIterations(encryption.iterations, options, source);
  const salt = fromBase64(encryption.salt, 'salt', SALT_BYTES, source);
  const nonce = fromBase64(encryption.nonce, 'nonce', NONCE_BYTES, source);
  const key = await deriveAesKey(passphrase, salt, encryption.iterations);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await subtle().decrypt(
        { name: 'AES-GCM', iv: nonce, additionalData: additionalData(metadata) },
        key,
        ciphertext as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    throw new WrongPassphraseError(`${source}: wrong passphrase, or the file was modified`);
  }
  return plain;
}

/**
 * The plain bytes of a model file that may be sealed or plain (unlocked models, owner exports): a sealed file
 * is opened with `passphrase` and refused without one.
 */
export async function plainModelBytes(
  bytes: Uint8Array,
  passphrase: string | Uint8Array | null | undefined,
  options: KdfOptions & { source?: string } = {},
): Promise<{ plain: Uint8Array; sealed: boolean }> {
  if (!isSealed(bytes)) return { plain: bytes, sealed: false };
  if (passphrase === null || passphrase === undefined) {
    throw new Error(
      `${options.source ?? 'sealed model'}: the weights are encrypted (a sealed locked model); pass the key it was locked with (--key)`,
    );
  }
  return { plain: await openSealed(bytes, passphrase, options), sealed: true };
}
