// The routers that read token views (sal, token-jsq, kv-jsq) on the GPU engine: exact against the
// CPU reference under folds, preemptions and same-instant bursts; a view past u32 stops the lane
// with its reason (other predictors behind sal and token-jsq: test/gpu/predictors.test.ts). Needs
// the adapter.
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProfile } from '../../src/model/profile.js';
import { compareJobs } from '../../src/sim/compare.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import { runGpuJobs } from '../../src/sim/gpu/engine.js';
import { STOP } from '../../src/sim/gpu/layout.js';
import type { Job } from '../../src/sim/job.js';
import { loadTrace } from '../../src/trace/readers.js';
import { scaleTrace, windowTrace } from '../../src/trace/trace.js';
import { makeTrace } from '../helpers.js';

const AZURE = new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname;

afterAll(async () => {
  await releaseDevice();
});

describe('token-view routers on the GPU engine', () => {
  it('give the CPU reference records for every scheduler, under light load and under memory pressure', async () => {
    const window = windowTrace(loadTrace(AZURE), 0, 120);
    const traces = [window, scaleTrace(window, 6)];
    const jobs: Job[] = [];
    const routers: [string, Record<string, unknown>][] = [
      ['sal', {}],
      ['sal', { prefillWeight: 0, decodeWeight: 1, kvPressureWeight: 0 }],
      ['sal', { kvThresholdPermille: 0, kvPressureWeight: 1000 }],
      ['token-jsq', {}],
      ['kv-jsq', {}],
    ];
    for (const [router, params] of routers)
      for (const scheduler of ['vllm-fcfs', 'chunked-prefill', 'sjf', 'larry'])
        for (const [t, trace] of traces.entries())
          jobs.push({
            trace,
            spec: {
              replicas: 3 + t,
              router: { name: router, params },
              scheduler: { name: scheduler },
              // The second trace runs out of KV blocks: preemptions re-queue prompt + generated tokens.
              profile: resolveProfile('llama3-8b-h100', t === 1 ? { kvBlocks: 1500, maxBatchedTokens: 2048, maxModelLen: 2048 } : {}),
              seed: 7,
            },
          });
    const { rows } = await compareJobs(jobs, { retrySlotCapacity: 4096 });
    expect(rows.filter((r) => !r.equal).map((r) => `${jobs[r.index].spec.router.name} x ${jobs[r.index].spec.scheduler.name}: ${r.difference}`)).toEqual([]);
    expect(rows.filter((r) => r.engine !== 'gpu').map((r) => r.fallback)).toEqual([]);
  });

  it('stop a lane whose queued prompt tokens pass 2^32-1, which then runs on the CPU and says why', async () => {
    const prompt = 2 ** 24 - 2;
    const trace = makeTrace(Array.from({ length: 300 }, (): [number, number, number] => [0, prompt, 1]));
    const profile = resolveProfile('tiny-test', { maxModelLen: 2 ** 24, maxBatchedTokens: 2 ** 16, kvBlocks: 2 ** 21, blockSize: 16 });
    const job: Job = { trace, spec: { replicas: 1, router: { name: 'kv-jsq' }, scheduler: { name: 'chunked-prefill' }, profile, seed: 1 } };
    const { results } = await runGpuJobs([job], { raceTail: false });
    expect(results[0].engine).toBe('cpu');
    expect(results[0].fallback).toBe(STOP.VIEWS.reason);
  });
});
