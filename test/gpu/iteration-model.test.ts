// The WGSL iteration-time model (src/model/iteration.wgsl) against its TypeScript twin: every preset
// and random models, on edge and random batches, through the general evaluation, the per-request
// sums and the fast-forward run. Fails (does not skip) when no WebGPU adapter is found.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addToSums,
  decodeRun,
  decodeRunUs,
  ITERATION_WGSL,
  iterationPs,
  iterationUs,
  MODEL_WORDS,
  packModelWords,
  type BatchSums,
  type IterationModel,
} from '../../src/model/iteration.js';
import { PROFILE_NAMES, resolveProfile } from '../../src/model/profile.js';
import { sharedShader } from '../../src/sim/gpu/compose.js';
import { createComputePipeline, releaseDevice, requireDevice } from '../../src/sim/gpu/device.js';
import { Draw, randomModel, randomSums, withinBound } from '../model/random-models.js';

const seed = Number(process.env.SCHEDLAB_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
console.log(`iteration-model test seed ${seed} (replay with SCHEDLAB_TEST_SEED=${seed})`);

// A case: model index, sums (P, D, Np, Cd, Cp, pairs lo, pairs hi), two requests (ctx, tokens,
// in prefill) added on top, then a decode run (n, first context, k).
const CASE_WORDS = 17;
const OUT_WORDS = 4;
const KERNEL = `
@group(0) @binding(0) var<storage, read> models: array<u32>;
@group(0) @binding(1) var<storage, read> cases: array<u32>;
@group(0) @binding(2) var<storage, read_write> outp: array<u32>;
var<private> model_base: u32;
fn model_word(i: u32) -> u32 { return models[model_base + i]; }
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u;
  let c = ${CASE_WORDS}u * i;
  if (c >= arrayLength(&cases)) { return; }
  model_base = cases[c] * ${MODEL_WORDS}u;
  var s = BatchSums(cases[c + 1u], cases[c + 2u], cases[c + 3u], cases[c + 4u], cases[c + 5u], vec2<u32>(cases[c + 6u], cases[c + 7u]));
  s = batch_sums_add(s, cases[c + 8u], cases[c + 9u], cases[c + 10u] != 0u);
  s = batch_sums_add(s, cases[c + 11u], cases[c + 12u], cases[c + 13u] != 0u);
  outp[${OUT_WORDS}u * i] = iteration_us(s);
  var run = decode_run_at(cases[c + 14u], cases[c + 15u], cases[c + 16u]);
  outp[${OUT_WORDS}u * i + 1u] = decode_run_us(run);
  run = decode_run_next(run);
  outp[${OUT_WORDS}u * i + 2u] = decode_run_us(run);
  run = decode_run_next(run);
  outp[${OUT_WORDS}u * i + 3u] = decode_run_us(run);
}`;

afterAll(releaseDevice);

async function runKernel(models: Uint32Array<ArrayBuffer>, cases: Uint32Array<ArrayBuffer>): Promise<Uint32Array> {
  const { device } = await requireDevice();
  const code = [sharedShader('u64'), readFileSync(ITERATION_WGSL, 'utf8'), KERNEL].join('\n');
  const entries = [0, 1, 2].map((binding) => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: binding < 2 ? ('read-only-storage' as const) : ('storage' as const) },
  }));
  const layout = device.createBindGroupLayout({ entries });
  const pipeline = await createComputePipeline(device, code, device.createPipelineLayout({ bindGroupLayouts: [layout] }), 'iteration-model-test');
  const n = cases.length / CASE_WORDS;
  const upload = (data: Uint32Array<ArrayBuffer>) => {
    const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, data);
    return buf;
  };
  const modelBuf = upload(models);
  const caseBuf = upload(cases);
  const outBytes = n * OUT_WORDS * 4;
  const outBuf = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout, entries: [modelBuf, caseBuf, outBuf].map((buffer, binding) => ({ binding, resource: { buffer } })) }));
  pass.dispatchWorkgroups(Math.min(n, 65535), Math.ceil(n / 65535));
  pass.end();
  enc.copyBufferToBuffer(outBuf, 0, read, 0, outBytes);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(read.getMappedRange().slice(0));
  read.unmap();
  for (const b of [modelBuf, caseBuf, outBuf, read]) b.destroy();
  return out;
}

interface Case {
  model: number;
  sums: BatchSums;
  requests: [number, number, boolean][];
  run: [number, number, number];
}

/** What the TypeScript model gives for a case: iteration µs, then the run at k, k+1, k+2. */
function expected(m: IterationModel, c: Case): number[] {
  const s = { ...c.sums };
  for (const [ctx, tokens, prefill] of c.requests) addToSums(s, ctx, tokens, prefill);
  const run = decodeRun(m, c.run[0], c.run[1]);
  return [iterationUs(m, s), decodeRunUs(run, c.run[2]), decodeRunUs(run, c.run[2] + 1), decodeRunUs(run, c.run[2] + 2)];
}

/** Cases whose iteration and runs stay within the model's bound (the validator refuses the rest). */
function inBound(m: IterationModel, c: Case): boolean {
  const s = { ...c.sums };
  for (const [ctx, tokens, prefill] of c.requests) addToSums(s, ctx, tokens, prefill);
  const run = decodeRun(m, c.run[0], c.run[1]);
  return withinBound(iterationPs(m, s)) && withinBound(run.firstPs + run.stepPs * (c.run[2] + 2)) && s.decodeContext + s.prefillContext < 2 ** 32;
}

describe('the WGSL iteration-time model matches its TypeScript twin', () => {
  it('on edge and random batches, for every preset and random models', async () => {
    const d = new Draw(seed);
    const models: IterationModel[] = PROFILE_NAMES.map((name) => resolveProfile(name).iterationNs);
    while (models.length < 64) models.push(randomModel(d));
    const empty: BatchSums = { prompt: 0, decodes: 0, prefills: 0, decodeContext: 0, prefillContext: 0, pairs: 0 };
    const cases: Case[] = [];
    models.forEach((_, model) => {
      // Edges: single decodes and prefills, batch-token segment boundaries, large chunks and contexts.
      const seg = models[model].perBatchTokenPs.flatMap(([start]) => [start - 1, start, start + 1]).filter((t) => t >= 1 && t < 2 ** 20);
      for (const t of [1, 2, 63, 64, 65, 512, 2048, 16384, ...seg]) {
        cases.push({ model, sums: empty, requests: [[0, t, true], [t, 1, false]], run: [t, t, 0] });
        cases.push({ model, sums: empty, requests: [[5000, t, true], [0, 0, false]], run: [1, 0, t] });
      }
      cases.push({ model, sums: empty, requests: [[131072, 131072, true], [0, 1, false]], run: [256, 4_000_000, 100_000] });
      for (let r = 0; r < 400; r++) {
        const sums = randomSums(d);
        const req = (): [number, number, boolean] => (d.u32() % 2 ? [d.mag(24), 1 + d.mag(17), true] : [d.mag(24), 1, false]);
        cases.push({ model, sums, requests: [req(), req()], run: [1 + d.mag(12), d.mag(28), d.mag(20)] });
      }
    });
    const kept = cases.filter((c) => inBound(models[c.model], c));
    expect(kept.length).toBeGreaterThan(cases.length / 2);
    const modelWords = new Uint32Array(models.length * MODEL_WORDS);
    models.forEach((m, i) => modelWords.set(packModelWords(m), i * MODEL_WORDS));
    const caseWords = new Uint32Array(kept.length * CASE_WORDS);
    kept.forEach((c, i) => {
      const pairs = c.sums.pairs;
      const s = c.sums;
      const flat = [c.model, s.prompt, s.decodes, s.prefills, s.decodeContext, s.prefillContext, pairs % 2 ** 32, Math.floor(pairs / 2 ** 32)];
      for (const [ctx, tokens, prefill] of c.requests) flat.push(ctx, tokens, prefill ? 1 : 0);
      flat.push(...c.run);
      caseWords.set(flat, i * CASE_WORDS);
    });
    const out = await runKernel(modelWords, caseWords);
    kept.forEach((c, i) => {
      const want = expected(models[c.model], c);
      for (let k = 0; k < OUT_WORDS; k++) {
        if (out[OUT_WORDS * i + k] !== want[k]) {
          expect.fail(`model ${c.model} ${JSON.stringify(models[c.model])}, case ${JSON.stringify(c)}: output ${k} GPU ${out[OUT_WORDS * i + k]} vs TS ${want[k]}`);
        }
      }
    });
  });
});
