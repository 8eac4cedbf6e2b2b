/// <reference types="@webgpu/types" preserve="true" />
// Keeps the WebGPU types referenced from the emitted .d.ts, so package users get them (@webgpu/types is a dependency).
/**
 * Device acquisition, one code path for every platform. A platform supplies a `GpuProvider`: browsers use
 * `navigator.gpu`; Node registers the Dawn provider from `engine/gpu/dawn.ts` (imported only by the Node
 * entry point, so `webgpu` never reaches a browser bundle).
 */
export interface DeviceOptions {
  /** 'auto' (default): hardware adapter, else the software fallback. 'software': only the fallback. */
  adapter?: 'auto' | 'hardware' | 'software';
  /** Dawn backend in Node ('vulkan' default; 'opengles' runs Mesa llvmpipe in compatibility mode). */
  backend?: 'vulkan' | 'opengles' | 'default';
  powerPreference?: GPUPowerPreference;
  /** Where to send the engine's messages (the adapter it picked); the engine prints nothing without one. */
  logger?: (message: string) => void;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  isFallbackAdapter: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterDescription;
  /** Whatever must stay referenced for the device's whole life (Dawn's instance in Node). */
  keepAlive: unknown;
}

export interface GpuProvider {
  name: string;
  acquire(options: DeviceOptions): Promise<{ adapter: GPUAdapter; backend: string; keepAlive: unknown }>;
}

let registeredProvider: GpuProvider | null = null;

export function registerGpuProvider(provider: GpuProvider): void {
  registeredProvider = provider;
}

const browserProvider: GpuProvider = {
  name: 'navigator.gpu',
  async acquire(options) {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      throw new Error(
        'WebGPU is not available: this browser has no navigator.gpu. Use a browser with WebGPU enabled ' +
          '(Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu), served from a secure context (https or localhost).',
      );
    }
    const adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference,
      forceFallbackAdapter: options.adapter === 'software',
    });
    if (!adapter) throw new Error('navigator.gpu.requestAdapter() found no adapter; check that WebGPU is enabled in this browser.');
    return { adapter, backend: 'browser', keepAlive: gpu };
  },
};

export function describeAdapter(adapter: GPUAdapter, backend: string): AdapterDescription {
  const info = adapter.info;
  // CPU rasterisers: SwiftShader (Vulkan) and Mesa's llvmpipe/lavapipe, which report it in device or description.
  const isFallback =
    Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter) ||
    info.architecture === 'swiftshader' ||
    /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend,
    isFallbackAdapter: isFallback,
  };
}

export function adapterLabel(d: AdapterDescription): string {
  // GL adapters put the renderer (e.g. llvmpipe) in `device` and the GL version in `description`.
  const parts = [d.description, d.device && !d.description.includes(d.device) ? d.device : ''].filter(Boolean);
  const name = parts.join(' / ') || [d.vendor, d.architecture].filter(Boolean).join(' ');
  return `${name} (${d.backend}${d.isFallbackAdapter ? ', software' : ''})`;
}

/** Acquire a device with the limits this engine wants: as many storage buffers and as large buffers as the adapter allows. */
export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  const provider = registeredProvider ?? browserProvider;
  const { adapter, backend, keepAlive } = await provider.acquire(options);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxUniformBufferBindingSize: l.maxUniformBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  });
  return { device, adapter, info: describeAdapter(adapter, backend), keepAlive };
}
