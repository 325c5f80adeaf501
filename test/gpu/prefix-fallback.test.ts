// Lanes with prefix caching on have no GPU twin yet: under --engine gpu they run on the CPU
// reference, saying why, next to lanes that do run on the GPU. Needs the WebGPU adapter.
import { describe, expect, it } from 'vitest';
import { firstDifference } from '../../src/metrics/record.js';
import { resolveProfile } from '../../src/model/profile.js';
import { runCpuJob } from '../../src/sim/cpu/pool.js';
import { releaseEngines, runJobs } from '../../src/sim/engine.js';
import type { Job } from '../../src/sim/job.js';
import { parseSyntheticSpec } from '../../src/trace/synthetic.js';

describe('prefix caching under --engine gpu', () => {
  it('runs cached lanes on the CPU with the reason and the others on the GPU, each record equal to the CPU reference', async () => {
    const trace = parseSyntheticSpec('sessions:rate=1,duration=60,seed=2');
    const spec = (prefixCache?: 'on'): Job['spec'] => ({
      replicas: 2,
      router: { name: 'least-outstanding' },
      scheduler: { name: 'chunked-prefill' },
      profile: resolveProfile('llama3-8b-h100', { kvBlocks: 2000, maxBatchedTokens: 2048 }),
      seed: 0,
      ...(prefixCache ? { prefixCache } : {}),
    });
    const jobs: Job[] = [{ trace, spec: spec('on') }, { trace, spec: spec() }];
    try {
      const { results } = await runJobs(jobs, { engine: 'gpu', threads: 1 });
      expect(results.map((r) => [r.engine, r.fallback])).toEqual([['cpu', 'prefix caching has no WGSL twin yet'], ['gpu', undefined]]);
      jobs.forEach((job, i) => expect(firstDifference(results[i].raw, runCpuJob(job).raw)).toBeNull());
      expect(results[0].raw.prefixHitTokens).toBeGreaterThan(0);
    } finally {
      await releaseEngines();
    }
  });
});
