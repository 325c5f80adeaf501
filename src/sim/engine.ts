// Picks the engine for a batch of jobs: --engine auto tries the GPU engine and falls back to the
// CPU reference on worker threads, saying why; gpu and cpu force one.
import { runCpuJobs, defaultThreads } from './cpu/pool.js';
import type { BackendInfo, Job, JobResult, RunOptions } from './job.js';

export async function runJobs(jobs: Job[], options: RunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo }> {
  const choice = options.engine ?? 'auto';
  if (choice !== 'cpu') {
    try {
      const gpu = await import('./gpu/engine.js');
      return await gpu.runGpuJobs(jobs, { onProgress: options.onProgress });
    } catch (e) {
      if (choice === 'gpu') throw new Error(`GPU engine unavailable: ${(e as Error).message}`);
      const threads = options.threads ?? defaultThreads();
      const results = await runCpuJobs(jobs, threads, options.onProgress);
      return {
        results,
        backend: { engine: 'cpu', description: `cpu: ${Math.min(threads, jobs.length)} thread(s)`, note: `GPU engine not used: ${(e as Error).message}` },
      };
    }
  }
  const threads = options.threads ?? defaultThreads();
  const results = await runCpuJobs(jobs, threads, options.onProgress);
  return { results, backend: { engine: 'cpu', description: `cpu: ${Math.min(threads, jobs.length)} thread(s)` } };
}
