// A CPU-reference worker thread of CpuPool (pool.ts): runs one job per message, replies with its
// raw metrics or with the error's name and message.
import { parentPort } from 'node:worker_threads';
import type { WorkerJob, WorkerReply } from './pool.js';
import { runCpuJob } from './pool.js';

parentPort!.on('message', (job: WorkerJob) => {
  let reply: WorkerReply;
  try {
    reply = { id: job.id, raw: runCpuJob({ trace: job.trace, spec: job.spec }).raw };
  } catch (e) {
    const err = e as Error;
    reply = { id: job.id, error: { name: err.name ?? 'Error', message: err.message ?? String(e), stack: err.stack } };
  }
  parentPort!.postMessage(reply);
});
