/**
 * The Node provider: Dawn through the npm package `webgpu`. When no hardware adapter is found it falls back,
 * by itself, to a software adapter: first Mesa llvmpipe through OpenGL ES (compatibility mode; Debian's
 * libegl1 libegl-mesa0 libgles2), measured 1.6x (MLP) to 3x (VGG) faster than SwiftShader for this engine's
 * training on a 2-core machine with every kernel test passing, then SwiftShader (the Vulkan ICD shipped by
 * Debian's chromium). A user's VK_ICD_FILENAMES wins when it yields an adapter (else llvmpipe, saying why);
 * `backend: 'vulkan'` skips llvmpipe.
 */
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { registerGpuProvider, type DeviceOptions, type GpuProvider } from './adapter.js';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

// Dawn needs the WebGPU enum/constant globals (GPUBufferUsage, ...) that browsers define.
Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';

/**
 * Every Dawn instance we create lives here for the life of the process: if the garbage collector frees an
 * instance while a device from it still works, Dawn crashes at random (see docs on the webgpu package).
 */
const instances: unknown[] = [];

function instance(flags: string[]): GPU {
  const gpu = create(flags);
  instances.push(gpu);
  return gpu;
}

async function tryVulkan(options: DeviceOptions): Promise<GPUAdapter | null> {
  return instance([]).requestAdapter({ powerPreference: options.powerPreference });
}

async function trySwiftShader(options: DeviceOptions): Promise<GPUAdapter | null> {
  if (process.env.VK_ICD_FILENAMES) return null; // the user chose a driver; respect it and do not replace it
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) return null;
  process.env.VK_ICD_FILENAMES = icd;
  return instance([]).requestAdapter({ powerPreference: options.powerPreference });
}

async function tryOpenGLES(): Promise<GPUAdapter | null> {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  return instance(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility' });
}

const NO_ADAPTER =
  'No WebGPU adapter found. Install a GPU driver with Vulkan support, or the software adapter: ' +
  '`apt-get install chromium libvulkan1` (Debian) provides SwiftShader at /usr/lib/chromium/vk_swiftshader_icd.json. ' +
  'A custom Vulkan driver can be named with VK_ICD_FILENAMES.';

/** Why the Vulkan driver the user named in VK_ICD_FILENAMES gave no adapter, in their terms. */
function userIcdProblem(): string {
  const named = process.env.VK_ICD_FILENAMES!;
  const missing = named.split(':').filter((p) => p && !existsSync(p));
  return missing.length
    ? `VK_ICD_FILENAMES names ${missing.join(', ')}, which does not exist`
    : `the Vulkan driver in VK_ICD_FILENAMES (${named}) gave no adapter`;
}

export const dawnProvider: GpuProvider = {
  name: 'dawn',
  async acquire(options) {
    const want = options.adapter ?? 'auto';
    if (options.backend === 'opengles') {
      const a = await tryOpenGLES();
      if (!a) throw new Error('No OpenGL ES adapter: install `libegl1 libegl-mesa0 libgles2` (Mesa llvmpipe).');
      return { adapter: a, backend: 'opengles', keepAlive: instances };
    }
    if (want !== 'software') {
      const a = await tryVulkan(options);
      if (a && !(want === 'hardware' && a.info.architecture === 'swiftshader')) {
        return { adapter: a, backend: 'vulkan', keepAlive: instances };
      }
      if (want === 'hardware') throw new Error(NO_ADAPTER);
    }
    // The user's VK_ICD_FILENAMES wins when it works; when it does not, say so and take the software fallback.
    const userIcd = Boolean(process.env.VK_ICD_FILENAMES);
    if (userIcd && want === 'software') {
      const a = await tryVulkan(options);
      if (a) return { adapter: a, backend: 'vulkan', keepAlive: instances };
    }
    if (options.backend !== 'vulkan') {
      const gl = await tryOpenGLES().catch(() => null);
      if (gl) {
        if (userIcd) options.logger?.(`${userIcdProblem()}; using Mesa llvmpipe (OpenGL ES) instead`);
        return { adapter: gl, backend: 'opengles', keepAlive: instances };
      }
    }
    const sw = await trySwiftShader(options);
    if (sw) return { adapter: sw, backend: 'vulkan', keepAlive: instances };
    throw new Error(userIcd ? `${userIcdProblem()}, and no software adapter was found either. ${NO_ADAPTER}` : NO_ADAPTER);
  },
};

registerGpuProvider(dawnProvider);
