/**
 * The peer the benchmarks compare against: TF.js 4.22 (`@tensorflow/tfjs`, whose full package registers the
 * gradient functions that training needs in Node, plus `@tensorflow/tfjs-backend-webgpu`) on the same Dawn
 * adapter as our engine, in the same process.
 *
 * Start it after `initEngine`: when no hardware adapter exists the engine points VK_ICD_FILENAMES at the software
 * adapter, and the Dawn instance created here must see that choice. Both request a 'high-performance' adapter so
 * that on a machine with two GPUs they get the same one; `startTfjs` checks that they did.
 */
import { create, globals } from 'webgpu';
import { initEngine, runtime, type AdapterDescription } from '../engine/node.js';

export type Tf = typeof import('@tensorflow/tfjs');

/** The power preference both engines request (TF.js's WebGPU backend always asks for this one). */
export const POWER_PREFERENCE: GPUPowerPreference = 'high-performance';

export interface AdapterReport {
  ours: AdapterDescription;
  tfjs: { vendor: string; architecture: string; device: string; description: string };
  /** The Vulkan driver both Dawn instances load (unset: the system's drivers). */
  vulkanIcd: string | null;
  sameAdapter: boolean;
}

export interface TfjsPeer {
  tf: Tf;
  adapter: AdapterReport;
}

/** Dawn instances must outlive every device made from them (Dawn crashes at random otherwise). */
const dawnInstances: GPU[] = [];

export async function startTfjs(): Promise<TfjsPeer> {
  Object.assign(globalThis, globals);
  const gpu = create([]);
  dawnInstances.push(gpu);
  // TF.js asks navigator.gpu for its adapter; this navigator hands out Dawn's and remembers which one it was.
  let tfAdapter: GPUAdapter | null = null;
  const recordingGpu = {
    requestAdapter: async (options?: GPURequestAdapterOptions) => (tfAdapter = await gpu.requestAdapter(options)),
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: recordingGpu }, configurable: true, writable: true });

  const tf: Tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js: the webgpu backend failed to initialise on this Dawn adapter');
  await tf.ready();
  const got = tfAdapter as GPUAdapter | null;
  if (!got) throw new Error('TF.js: the webgpu backend started without requesting an adapter through navigator.gpu');

  const ours = runtime().info;
  const info = got.info;
  const tfjs = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
  const sameAdapter = (['vendor', 'architecture', 'device', 'description'] as const).every((k) => tfjs[k] === ours[k]);
  const adapter: AdapterReport = { ours, tfjs, vulkanIcd: process.env.VK_ICD_FILENAMES ?? null, sameAdapter };
  if (!sameAdapter) {
    throw new Error(
      `TF.js got another adapter than our engine (ours: ${JSON.stringify(ours)}, TF.js: ${JSON.stringify(tfjs)}); a comparison across adapters would mislead`,
    );
  }
  return { tf, adapter };
}

/** Print both adapters, one line each. */
export function printAdapters(a: AdapterReport): void {
  const line = (d: { vendor: string; architecture: string; device: string; description: string }) =>
    `${d.description || '(no description)'} [vendor ${d.vendor || '-'}, architecture ${d.architecture || '-'}, device ${d.device || '-'}]`;
  console.log(`adapter (ours):  ${line(a.ours)}, backend ${a.ours.backend}${a.ours.isFallbackAdapter ? ', software fallback' : ''}`);
  console.log(`adapter (TF.js): ${line(a.tfjs)}`);
  console.log(`Vulkan ICD: ${a.vulkanIcd ?? '(system default)'}; same adapter: ${a.sameAdapter ? 'yes' : 'NO'}`);
}

/**
 * Both engines on one adapter, ours first: Vulkan on both sides, since TF.js needs core WebGPU (without a GPU
 * that is SwiftShader, not the engine's default llvmpipe). Prints both adapters.
 */
export async function startSideBySide(): Promise<TfjsPeer> {
  await initEngine({ powerPreference: POWER_PREFERENCE, backend: 'vulkan' });
  const peer = await startTfjs();
  printAdapters(peer.adapter);
  return peer;
}
