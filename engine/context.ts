/**
 * The current engine: one runtime (device, pools, pipelines) shared by every op. `initEngine` creates it;
 * ops reach it through `runtime()`. Keeping it here (not in tensor.ts) avoids import cycles.
 */
import { acquireDevice, adapterLabel, type DeviceOptions } from './gpu/adapter.js';
import { Runtime } from './runtime/runtime.js';

let current: Runtime | null = null;

/** Environment overrides (Node): MLOCK_BACKEND=vulkan|opengles, MLOCK_ADAPTER=auto|hardware|software. */
function fromEnvironment(options: DeviceOptions): DeviceOptions {
  const env = typeof process !== 'undefined' ? process.env : undefined;
  return {
    ...options,
    backend: options.backend ?? (env?.MLOCK_BACKEND as DeviceOptions['backend']),
    adapter: options.adapter ?? (env?.MLOCK_ADAPTER as DeviceOptions['adapter']),
  };
}

export async function initEngine(options: DeviceOptions = {}): Promise<Runtime> {
  if (current) return current;
  const acquired = await acquireDevice(fromEnvironment(options));
  current = new Runtime(acquired);
  const inNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!(options.quiet ?? !inNode)) console.log(`[engine] adapter: ${adapterLabel(acquired.info)}`);
  return current;
}

export function runtime(): Runtime {
  if (!current) throw new Error('The engine is not initialised: call `await initEngine()` first.');
  return current;
}

export function hasEngine(): boolean {
  return current !== null;
}

/** Destroy the device and forget it; a later `initEngine` starts afresh. */
export function shutdownEngine(): void {
  current?.destroy();
  current = null;
}
