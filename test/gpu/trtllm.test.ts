// TensorRT-LLM's capacity policies on the GPU engine, exact against the CPU reference:
// trtllm-max-utilization's arrival-pass batching when requests fit and when a request that does not
// fit pauses the last started one; trtllm-guaranteed-no-evict's reservation admission (blocks to
// completion beside every started request's remainder), under both max_tokens modes. Memory
// pressure, chunked prompts, same-instant bursts. Needs the WebGPU adapter.
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProfile } from '../../src/model/profile.js';
import { compareJobs } from '../../src/sim/compare.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { runCpuJob } from '../../src/sim/cpu/pool.js';
import { loadTrace } from '../../src/trace/readers.js';
import { scaleTrace, windowTrace } from '../../src/trace/trace.js';
import { makeTrace } from '../helpers.js';

const AZURE = new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname;

afterAll(async () => {
  await releaseDevice();
});

describe('TensorRT-LLM capacity policies on the GPU engine', () => {
  it('max-utilization gives the CPU reference records, pauses included', async () => {
    const window = windowTrace(loadTrace(AZURE), 0, 120);
    const burst = makeTrace(Array.from({ length: 120 }, (_, i): [number, number, number] => [Math.floor(i / 40) * 50_000, 200 + ((i * 37) % 900), 1 + ((i * 53) % 300)]));
    const jobs: Job[] = [];
    for (const [t, trace] of [window, scaleTrace(window, 8), burst].entries())
      for (const router of ['round-robin', 'least-kv', 'sal'])
        for (const kvBlocks of [400, 3000])
          jobs.push({
            trace,
            spec: {
              replicas: t === 2 ? 1 : 3,
              router: { name: router },
              scheduler: { name: 'trtllm-max-utilization', params: { watermarkPermille: kvBlocks === 400 ? 10 : 0 } },
              profile: resolveProfile('llama3-8b-h100', { kvBlocks, maxBatchedTokens: 1024, maxModelLen: 4096, blockSize: 16 }),
              seed: 4,
            },
          });
    const { rows } = await compareJobs(jobs, { retrySlotCapacity: 4096 });
    expect(rows.filter((r) => !r.equal).map((r) => `job ${r.index}: ${r.difference}`)).toEqual([]);
    expect(rows.filter((r) => r.engine !== 'gpu').map((r) => `job ${r.index}: ${r.fallback}`)).toEqual([]);
    // The pressure cases really pause started requests.
    const paused = jobs.filter((j) => j.spec.profile.kvBlocks === 400).map((j) => runCpuJob(j).raw.preemptions);
    expect(paused.filter((p) => p > 0).length).toBeGreaterThan(3);
  });

  it('guaranteed-no-evict gives the CPU reference records and never preempts with max_tokens at least the output', async () => {
    const window = windowTrace(loadTrace(AZURE), 0, 120);
    const jobs: Job[] = [];
    for (const trace of [window, scaleTrace(window, 8)])
      for (const maxTokens of ['trace-output', 'max-model-len'])
        for (const kvBlocks of [600, 3000])
          jobs.push({
            trace,
            spec: {
              replicas: 2,
              router: { name: 'least-kv' },
              scheduler: { name: 'trtllm-guaranteed-no-evict', params: { maxTokens } },
              profile: resolveProfile('llama3-8b-h100', { kvBlocks, maxBatchedTokens: 1024, maxModelLen: 4096, blockSize: 16 }),
              seed: 5,
            },
          });
    const { rows } = await compareJobs(jobs, { retrySlotCapacity: 4096 });
    expect(rows.filter((r) => !r.equal).map((r) => `job ${r.index}: ${r.difference}`)).toEqual([]);
    expect(rows.filter((r) => r.engine !== 'gpu').map((r) => `job ${r.index}: ${r.fallback}`)).toEqual([]);
    expect(jobs.map((j) => runCpuJob(j).raw.preemptions)).toEqual(jobs.map(() => 0));
  });
});
