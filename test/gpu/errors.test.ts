// A broken shader is reported with its label, line and source text, not as a bare validation error.
import { afterAll, describe, expect, it } from 'vitest';
import { createComputePipeline, releaseDevice, requireDevice } from '../../src/sim/gpu/device.js';

afterAll(releaseDevice);

describe('GPU error reporting', () => {
  it('a WGSL compile error names the module, the line and quotes it', async () => {
    const { device } = await requireDevice();
    const code = ['@compute @workgroup_size(1)', 'fn main() {', '  let x: u32 = undefined_name + 1u;', '}'].join('\n');
    const layout = device.createPipelineLayout({ bindGroupLayouts: [] });
    const err = await createComputePipeline(device, code, layout, 'engine[test]').then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('WGSL compile error in engine[test]');
    expect(err!.message).toMatch(/engine\[test\]:3:\d+: .*undefined_name/);
    expect(err!.message).toContain('let x: u32 = undefined_name + 1u;');
  });
});
