/**
 * Headless Chromium with WebGPU on, driven by playwright-core. The flags are those measured to expose WebGPU
 * on machines without a GPU (SwiftShader's fallback adapter); see docs/platform.md in the shared folder. The
 * browser gets a fresh profile directory, removed again on close.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's package; override with CHROMIUM=/path/to/chrome. */
const DEFAULT_EXECUTABLE = '/usr/bin/chromium';

const WEBGPU_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-gpu-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  const profile = await mkdtemp(join(tmpdir(), 'mlock-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? DEFAULT_EXECUTABLE,
    headless: true,
    args: WEBGPU_FLAGS,
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
