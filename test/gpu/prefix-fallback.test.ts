// What of prefix caching still has no GPU twin: sglang's lpm order, and a prefix router whose memory
// passes the GPU engine's budget. Under --engine gpu those lanes run on the CPU reference, saying why, next to
// caching lanes that do run on the GPU. Needs the WebGPU adapter.
import { describe, expect, it } from 'vitest';
import { firstDifference } from '../../src/metrics/record.js';
import { resolveProfile } from '../../src/model/profile.js';
import { runCpuJob } from '../../src/sim/cpu/pool.js';
import { releaseEngines, runJobs } from '../../src/sim/engine.js';
import type { Job } from '../../src/sim/job.js';
import { parseSyntheticSpec } from '../../src/trace/synthetic.js';

describe('prefix caching under --engine gpu', () => {
  it('runs the lanes without a twin on the CPU with the reason and the others on the GPU, each record equal to the CPU reference', async () => {
    const trace = parseSyntheticSpec('sessions:rate=1,duration=60,seed=2');
    const spec = (router: string, scheduler: string, prefixCache?: 'on', routerParams: Record<string, unknown> = {}): Job['spec'] => ({
      replicas: 2,
      router: { name: router, params: routerParams },
      scheduler: { name: scheduler },
      profile: resolveProfile('llama3-8b-h100', { kvBlocks: 2000, maxBatchedTokens: 2048 }),
      seed: 0,
      ...(prefixCache ? { prefixCache } : {}),
    });
    const jobs: Job[] = [
      { trace, spec: spec('least-outstanding', 'chunked-prefill', 'on') },
      { trace, spec: { ...spec('least-outstanding', 'sglang', 'on'), scheduler: { name: 'sglang', params: { schedulePolicy: 'lpm' } } } },
      // 1,000 x the KV capacity in 16-token units: 2,000,000 chain ids per replica.
      { trace, spec: spec('prefix-affinity', 'chunked-prefill', 'on', { capacityPermille: 1_000_000 }) },
      { trace, spec: spec('least-outstanding', 'chunked-prefill') },
    ];
    try {
      const { results } = await runJobs(jobs, { engine: 'gpu', threads: 1 });
      expect(results.map((r) => [r.engine, r.fallback])).toEqual([
        ['gpu', undefined],
        ['cpu', "prefix caching with scheduler sglang's admission order (lpm) has no WGSL twin yet"],
        ['cpu', "its prefix router's memory takes 77.8 MiB (2 replicas x 2000000 prefix units), above the GPU engine's 32 MiB budget"],
        ['gpu', undefined],
      ]);
      jobs.forEach((job, i) => expect(firstDifference(results[i].raw, runCpuJob(job).raw)).toBeNull());
      expect(results[0].raw.prefixHitTokens).toBeGreaterThan(0);
    } finally {
      await releaseEngines();
    }
  });
});
