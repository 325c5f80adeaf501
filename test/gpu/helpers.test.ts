// WGSL helpers against their TypeScript twins: histogram buckets, RNG draws, u64 add, subtract and multiply.
// Fails (does not skip) when no WebGPU adapter is found.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf } from '../../src/metrics/histogram.js';
import { draw, mix32 } from '../../src/rng.js';
import { sharedShader } from '../../src/sim/gpu/compose.js';
import { createComputePipeline, releaseDevice, requireDevice } from '../../src/sim/gpu/device.js';

const seed = Number(process.env.SCHEDLAB_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
console.log(`helpers test seed ${seed} (replay with SCHEDLAB_TEST_SEED=${seed})`);

// out[i] = (bucket_of(a), mix32(a), draw(a, b, c), add64 lo/hi of (a,b)+(c,a), mul32x32 lo/hi of a*b,
//          sub64 lo/hi of (a,b)-(c,a), wrapping mod 2^64)
const KERNEL = `
@group(0) @binding(0) var<storage, read> inp: array<u32>;
@group(0) @binding(1) var<storage, read_write> outp: array<u32>;
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u;
  if (i * 3u >= arrayLength(&inp)) { return; }
  let a = inp[3u * i];
  let b = inp[3u * i + 1u];
  let c = inp[3u * i + 2u];
  let s = add64(vec2<u32>(a, b), vec2<u32>(c, a));
  let m = mul32x32(a, b);
  let d = sub64(vec2<u32>(a, b), vec2<u32>(c, a));
  outp[9u * i] = bucket_of(a);
  outp[9u * i + 1u] = mix32(a);
  outp[9u * i + 2u] = draw(a, b, c);
  outp[9u * i + 3u] = s.x;
  outp[9u * i + 4u] = s.y;
  outp[9u * i + 5u] = m.x;
  outp[9u * i + 6u] = m.y;
  outp[9u * i + 7u] = d.x;
  outp[9u * i + 8u] = d.y;
}`;

let device: GPUDevice;
beforeAll(async () => {
  device = (await requireDevice()).device;
});
afterAll(async () => {
  await releaseDevice();
});

async function runKernel(input: Uint32Array<ArrayBuffer>): Promise<Uint32Array> {
  const code = [sharedShader('rng'), sharedShader('histogram'), sharedShader('u64'), KERNEL].join('\n');
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  const pipeline = await createComputePipeline(device, code, device.createPipelineLayout({ bindGroupLayouts: [layout] }), 'helpers-test');
  const n = input.length / 3;
  const inBuf = device.createBuffer({ size: input.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(inBuf, 0, input);
  const outBuf = device.createBuffer({ size: n * 36, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: n * 36, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: inBuf } }, { binding: 1, resource: { buffer: outBuf } }] }));
  pass.dispatchWorkgroups(Math.min(n, 65535), Math.ceil(n / 65535));
  pass.end();
  enc.copyBufferToBuffer(outBuf, 0, read, 0, n * 36);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(read.getMappedRange().slice(0));
  read.unmap();
  for (const b of [inBuf, outBuf, read]) b.destroy();
  return out;
}

describe('WGSL helpers match their TypeScript twins', () => {
  it('bucket_of, mix32, draw, add64, sub64, mul32x32 on edge and random values', async () => {
    const edges = [0, 1, 2, 63, 64, 127, 128, 129, 255, 256, 1000, 65535, 65536, 2 ** 24 - 1, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1];
    const triples: number[] = [];
    for (const a of edges) for (const b of edges) triples.push(a, b, edges[(a + b) % edges.length]);
    let x = seed >>> 0;
    const next = () => (x = mix32((x + 0x9e3779b9) >>> 0));
    for (let i = 0; i < 100_000; i++) {
      // Mix magnitudes so every bucket range is hit, not only values near 2^32.
      const shift = next() % 32;
      triples.push(next() >>> shift, next(), next());
    }
    const input = Uint32Array.from(triples);
    const out = await runKernel(input);
    const n = input.length / 3;
    let checked = 0;
    for (let i = 0; i < n; i++) {
      const a = input[3 * i];
      const b = input[3 * i + 1];
      const c = input[3 * i + 2];
      const sum = BigInt(a) + BigInt(b) * 2n ** 32n + BigInt(c) + BigInt(a) * 2n ** 32n;
      const prod = BigInt(a) * BigInt(b);
      const diff = BigInt.asUintN(64, BigInt(a) + BigInt(b) * 2n ** 32n - (BigInt(c) + BigInt(a) * 2n ** 32n));
      const want = [
        bucketOf(a),
        mix32(a),
        draw(a, b, c),
        Number(sum & 0xffffffffn),
        Number((sum >> 32n) & 0xffffffffn),
        Number(prod & 0xffffffffn),
        Number(prod >> 32n),
        Number(diff & 0xffffffffn),
        Number(diff >> 32n),
      ];
      for (let k = 0; k < 9; k++) {
        if (out[9 * i + k] !== want[k]) {
          expect.fail(`input (${a}, ${b}, ${c}) output ${k}: GPU ${out[9 * i + k]} vs TS ${want[k]}`);
        }
      }
      checked++;
    }
    expect(checked).toBe(n);
  });
});
