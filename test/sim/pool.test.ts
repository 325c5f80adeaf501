// CpuPool: a persistent pool of CPU-reference workers that callers feed one job at a time.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/model/profile.js';
import { CpuPool, runCpuJob, runCpuJobs } from '../../src/sim/cpu/pool.js';
import type { Job } from '../../src/sim/job.js';
import { makeTrace, tinySpec } from '../helpers.js';

const trace = makeTrace(Array.from({ length: 40 }, (_, i) => [i * 1000, 20 + (i % 7), 5 + (i % 5)] as [number, number, number]));
const job = (seed: number): Job => ({ trace, spec: { ...tinySpec('vllm-fcfs'), replicas: 2, router: { name: 'random' }, seed } });

describe('CpuPool', () => {
  it('runs jobs submitted one at a time, while the caller does other work, and gives the inline results', async () => {
    const pool = new CpuPool(2);
    try {
      const pending = [1, 2, 3, 4, 5].map((seed) => pool.run(job(seed)));
      let ticks = 0;
      const ticking = setInterval(() => ticks++, 0); // the calling thread stays free
      const results = await Promise.all(pending);
      clearInterval(ticking);
      expect(ticks).toBeGreaterThan(0);
      results.forEach((r, i) => expect(r.raw).toEqual(runCpuJob(job(i + 1)).raw));
      // still serving after a batch
      expect((await pool.run(job(9))).raw).toEqual(runCpuJob(job(9)).raw);
    } finally {
      await pool.close();
    }
  });

  it('rejects an invalid lane at once with its ConfigError, before it reaches a worker', async () => {
    const pool = new CpuPool(1);
    try {
      await expect(pool.run({ trace, spec: { ...job(1).spec, replicas: 1025 } })).rejects.toBeInstanceOf(ConfigError);
      expect((await pool.run(job(1))).engine).toBe('cpu');
    } finally {
      await pool.close();
    }
  });

  it('a job that cannot be handed over rejects with its own error; close() rejects what is still queued', async () => {
    const pool = new CpuPool(1);
    const broken = { ...job(1), trace: { ...trace, promptTokens: undefined as unknown as Uint32Array } };
    const failed = await pool.run(broken).catch((e: Error) => e);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).name).toBe('TypeError');
    const queued = [pool.run(job(1)), pool.run(job(2)), pool.run(job(3))].map((p) => p.catch((e: Error) => e.message));
    await pool.close();
    expect((await Promise.all(queued)).some((m) => typeof m === 'string' && /closed/.test(m))).toBe(true);
    await expect(pool.run(job(1))).rejects.toThrow(/closed/);
  });

  it('runCpuJobs keeps job order and reports progress, on threads and inline', async () => {
    const jobs = [3, 1, 4, 1, 5].map(job);
    const progress: number[] = [];
    const threaded = await runCpuJobs(jobs, 2, (done) => progress.push(done));
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    expect(threaded.map((r) => r.raw)).toEqual((await runCpuJobs(jobs, 1)).map((r) => r.raw));
    await expect(runCpuJobs([job(1), { trace, spec: { ...job(2).spec, seed: -1 } }], 2)).rejects.toBeInstanceOf(ConfigError);
  });
});
