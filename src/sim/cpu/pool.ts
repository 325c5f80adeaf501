// Runs jobs on the CPU reference, in worker threads when more than one is asked for.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { reviveRaw } from '../../metrics/record.js';
import type { Trace } from '../../trace/trace.js';
import type { Job, JobResult } from '../job.js';
import { resolveLane } from '../lane.js';
import { simulate } from './simulator.js';

export interface WorkerJob {
  id: number;
  trace: number;
  spec: Job['spec'];
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

export function runCpuJob(job: Job): JobResult {
  return { raw: simulate(job.trace, resolveLane(job.spec)).raw, engine: 'cpu' };
}

export async function runCpuJobs(jobs: Job[], threads = defaultThreads(), onProgress?: (done: number, total: number) => void): Promise<JobResult[]> {
  const results: JobResult[] = new Array(jobs.length);
  const workers = Math.min(threads, jobs.length);
  if (workers <= 1) {
    jobs.forEach((job, i) => {
      results[i] = runCpuJob(job);
      onProgress?.(i + 1, jobs.length);
    });
    return results;
  }
  const traces: Trace[] = [];
  const traceIndex = new Map<Trace, number>();
  const queue: WorkerJob[] = jobs.map((job, id) => {
    let t = traceIndex.get(job.trace);
    if (t === undefined) {
      t = traces.length;
      traces.push(job.trace);
      traceIndex.set(job.trace, t);
    }
    return { id, trace: t, spec: job.spec };
  });
  let done = 0;
  let nextJob = 0;
  await Promise.all(
    Array.from({ length: workers }, () =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { traces } });
        const feed = () => {
          if (nextJob < queue.length) worker.postMessage(queue[nextJob++]);
          else void worker.terminate().then(() => resolve());
        };
        worker.on('message', (msg: { id: number; raw?: unknown; error?: string }) => {
          if (msg.error !== undefined) {
            reject(new Error(`job ${msg.id}: ${msg.error}`));
            void worker.terminate();
            return;
          }
          results[msg.id] = { raw: reviveRaw(msg.raw), engine: 'cpu' };
          onProgress?.(++done, jobs.length);
          feed();
        });
        worker.on('error', reject);
        feed();
      }),
    ),
  );
  return results;
}
