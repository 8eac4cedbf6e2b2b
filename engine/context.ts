/**
 * The current engine: one runtime (device, pools, pipelines) shared by every op. `initEngine` creates it;
 * ops reach it through `runtime()`. Keeping it here (not in tensor.ts) avoids import cycles.
 */
import { acquireDevice, adapterLabel, type DeviceOptions } from './gpu/adapter.js';
import { Runtime } from './runtime/runtime.js';

let current: Runtime | null = null;

const ENVIRONMENT_CHOICES = {
  MLOCK_BACKEND: ['vulkan', 'opengles', 'default'],
  MLOCK_ADAPTER: ['auto', 'hardware', 'software'],
} as const;

/**
 * The device choices made by environment variables (Node): MLOCK_BACKEND=vulkan|opengles|default and
 * MLOCK_ADAPTER=auto|hardware|software. Any other value is refused here, before a device is looked for, rather
 * than silently meaning the default (MLOCK_BACKEND=metal is not a backend Dawn has on Linux).
 */
export function environmentDeviceOptions(
  env: Record<string, string | undefined> | undefined = typeof process !== 'undefined' ? process.env : undefined,
): DeviceOptions {
  const options: DeviceOptions = {};
  for (const [name, allowed] of Object.entries(ENVIRONMENT_CHOICES)) {
    const value = env?.[name];
    if (value === undefined || value === '') continue;
    if (!(allowed as readonly string[]).includes(value))
      throw new Error(`${name}=${value} is not supported; use one of ${allowed.join(', ')} (or leave it unset)`);
    if (name === 'MLOCK_BACKEND') options.backend = value as NonNullable<DeviceOptions['backend']>;
    else options.adapter = value as NonNullable<DeviceOptions['adapter']>;
  }
  return options;
}

/** Start the engine on a device (once; later calls return the same runtime). Logs only through `options.logger`. */
export async function initEngine(options: DeviceOptions = {}): Promise<Runtime> {
  if (current) return current;
  const acquired = await acquireDevice({ ...environmentDeviceOptions(), ...stripUndefined(options) });
  current = new Runtime(acquired);
  options.logger?.(`adapter: ${adapterLabel(acquired.info)}`);
  return current;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
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
