/** The stderr filter that keeps Dawn's driver-probe warnings out of the CLI's and the test run's output. */
import { describe, expect, it } from 'vitest';
import { dawnWarningFilter } from '../../scripts/without-dawn-warnings.js';

// Seen on a machine with Mesa's lavapipe and llvmpipe (webgpu 0.6.2).
const DAWN = [
  'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.',
  ' - While initializing adapter (backend=BackendType::Vulkan)',
  '    at InitializeImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)',
  '',
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.',
].join('\n');

describe('Dawn warning filter', () => {
  it('drops Dawn warnings with their context and source lines, keeps everything else', () => {
    const f = dawnWarningFilter();
    const text = `${DAWN}\nadapter: llvmpipe (opengles, software)\nwarning: a user-facing warning\n\nerror: something\n`;
    // Chunks split mid-line, as pipes deliver them.
    const out = [text.slice(0, 37), text.slice(37, 200), text.slice(200)].map((c) => f.push(c)).join('') + f.end();
    expect(out).toBe('adapter: llvmpipe (opengles, software)\nwarning: a user-facing warning\n\nerror: something\n');
  });

  it('keeps a final line without a newline', () => {
    const f = dawnWarningFilter();
    expect(f.push('last words') + f.end()).toBe('last words');
  });
});
