// Adapter classification from descriptions (no device needed): a CPU implementation reached through
// Vulkan (lavapipe, SwiftShader) must get the software treatment too, loop limiter included.
import { describe, expect, it } from 'vitest';
import { isSoftwareAdapter } from '../../src/sim/gpu/device.js';
import { simdWidth } from '../../src/sim/gpu/engine.js';

describe('software adapters', () => {
  it.each([
    ['opengles: OpenGL ES 3.2 Mesa 22.3.6 (llvmpipe-llvm-15-0-6-256-bits)', true],
    ['vulkan: Mesa 24.2.8 (llvmpipe (LLVM 19.1.1, 256 bits))', true],
    ['vulkan: SwiftShader Device (Subzero)', true],
    ['vulkan: NVIDIA H100 80GB HBM3', false],
    ['vulkan: AMD Radeon RX 7900 XTX (RADV NAVI31)', false],
  ])('%s -> software %s', (description, software) => {
    expect(isSoftwareAdapter(description)).toBe(software);
  });

  it('reads the SIMD width from either llvmpipe spelling', () => {
    expect(simdWidth('opengles: OpenGL ES 3.2 Mesa 22.3.6 (llvmpipe-llvm-15-0-6-256-bits)')).toBe(8);
    expect(simdWidth('vulkan: Mesa 24.2.8 (llvmpipe (LLVM 19.1.1, 128 bits))')).toBe(4);
    expect(simdWidth('vulkan: SwiftShader Device (Subzero)')).toBe(8);
  });
});
