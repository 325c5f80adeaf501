import { parentPort, workerData } from 'node:worker_threads';
import type { Trace } from '../../trace/trace.js';
import type { WorkerJob } from './pool.js';
import { runCpuJob } from './pool.js';

const traces: Trace[] = workerData.traces;
parentPort!.on('message', (job: WorkerJob) => {
  try {
    const { raw } = runCpuJob({ trace: traces[job.trace], spec: job.spec });
    parentPort!.postMessage({ id: job.id, raw });
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: (e as Error).message });
  }
});
