// The one place sweeps hand jobs to an engine. --engine cpu runs the CPU reference; auto and gpu use
// the GPU engine (src/sim/gpu/engine.ts) when it loads and works: auto falls back to the CPU with a
// note saying why, gpu fails with a clear error. src/sim/engine.ts implements exactly that policy.
import type { BackendInfo, Job, JobResult, RunOptions } from '../sim/job.js';
import { runJobs as runOnEngine } from '../sim/engine.js';

export async function runJobs(jobs: Job[], opts: RunOptions): Promise<{ results: JobResult[]; backend: BackendInfo }> {
  if (jobs.length === 0) return { results: [], backend: { engine: 'cpu', description: 'nothing to run' } };
  return runOnEngine(jobs, opts);
}
