// Runs jobs on the CPU reference in worker threads.
//
// CpuPool is a pool that stays up across jobs, for callers that feed work continuously (a sweep,
// or the GPU engine handing lanes back to the CPU while it keeps dispatching):
//
//   const pool = new CpuPool(threads);     // workers start on first use, at most `threads`
//   const { raw } = await pool.run(job);   // queued; runs on the next free worker, in submission order
//   await pool.close();                    // ends the workers; runs still queued or running reject
//
// Every job's lane is validated on the calling thread before it is queued, so a bad configuration
// rejects at once with its ConfigError. An error inside a worker rejects that job with an error of
// the same name and message (its stack under `cause`); the worker keeps serving. A worker that
// dies (out of memory, a crash) fails its job and is replaced. Traces travel in
// SharedArrayBuffers, copied once per Trace object and shared by all workers, not cloned per job.
//
// runCpuJobs(jobs, threads, onProgress) runs a whole batch: inline on this thread for one thread
// (or one job), else on a CpuPool of min(threads, jobs) workers; results come back in job order.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { reviveRaw } from '../../metrics/record.js';
import type { Trace } from '../../trace/trace.js';
import type { Job, JobResult } from '../job.js';
import { resolveLane } from '../lane.js';
import { simulate } from './simulator.js';

/** What a worker receives: the lane and its trace over shared memory. */
export interface WorkerJob {
  id: number;
  trace: Trace;
  spec: Job['spec'];
}

/** What a worker sends back. */
export type WorkerReply = { id: number; raw: unknown } | { id: number; error: { name: string; message: string; stack?: string } };

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/** Most worker threads a command may ask for (--threads): each costs some 10-20 MB before any work. */
export const MAX_THREADS = 256;

export function runCpuJob(job: Job): JobResult {
  return { raw: simulate(job.trace, resolveLane(job.spec)).raw, engine: 'cpu' };
}

const shared = new WeakMap<Trace, Trace>();

function toShared<A extends Float64Array | Uint32Array>(a: A): A {
  const copy = new (a.constructor as new (b: SharedArrayBuffer) => A)(new SharedArrayBuffer(a.byteLength));
  copy.set(a);
  return copy;
}

/** The trace with its columns in SharedArrayBuffers (made once per Trace object). */
function sharedTrace(trace: Trace): Trace {
  let s = shared.get(trace);
  if (!s) {
    s = {
      ...trace,
      arrivalUs: toShared(trace.arrivalUs),
      promptTokens: toShared(trace.promptTokens),
      outputTokens: toShared(trace.outputTokens),
    };
    if (trace.prefixHashes) s.prefixHashes = toShared(trace.prefixHashes);
    if (trace.prefixOffsets) s.prefixOffsets = toShared(trace.prefixOffsets);
    shared.set(trace, s);
  }
  return s;
}

/** An error re-created on this thread with the worker's name (so a ConfigError stays one) and message. */
function workerError(e: { name: string; message: string; stack?: string }): Error {
  const err = new Error(e.message, { cause: e.stack });
  err.name = e.name;
  return err;
}

interface Pending {
  message: WorkerJob;
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
}

// Built code (dist/) starts the compiled worker; the TypeScript sources need tsx's loader first.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url);

export class CpuPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(readonly threads = defaultThreads()) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`CpuPool: threads must be an integer >= 1, got ${threads}`);
  }

  run(job: Job): Promise<JobResult> {
    if (this.closed) return Promise.reject(new Error('CpuPool: closed'));
    try {
      resolveLane(job.spec);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<JobResult>((resolve, reject) => {
      this.queue.push({ message: { id: this.nextId++, trace: sharedTrace(job.trace), spec: job.spec }, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const stopped = new Error('CpuPool: closed while the job was queued or running');
    for (const p of this.queue.splice(0)) p.reject(stopped);
    const slots = this.slots.splice(0);
    for (const s of slots) s.busy?.reject(stopped);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.busy === null);
      if (!slot) {
        if (this.slots.length >= this.threads) return;
        slot = this.spawn();
      }
      const job = this.queue.shift()!;
      slot.busy = job;
      slot.worker.postMessage(job.message);
    }
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_URL), busy: null };
    slot.worker.on('message', (reply: WorkerReply) => {
      const job = slot.busy;
      slot.busy = null;
      if (job && job.message.id === reply.id) {
        if ('error' in reply) job.reject(workerError(reply.error));
        else job.resolve({ raw: reviveRaw(reply.raw), engine: 'cpu' });
      }
      this.dispatch();
    });
    const died = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return; // closed, or already handled
      this.slots.splice(i, 1);
      slot.busy?.reject(new Error(`CPU worker thread died: ${why}`));
      slot.busy = null;
      if (!this.closed) this.dispatch();
    };
    slot.worker.on('error', (e) => died(e.message));
    slot.worker.on('exit', (code) => died(`exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }
}

export async function runCpuJobs(jobs: Job[], threads = defaultThreads(), onProgress?: (done: number, total: number) => void): Promise<JobResult[]> {
  for (const job of jobs) resolveLane(job.spec); // every job is checked before any runs
  const workers = Math.min(threads, jobs.length);
  if (workers <= 1) {
    return jobs.map((job, i) => {
      const r = runCpuJob(job);
      onProgress?.(i + 1, jobs.length);
      return r;
    });
  }
  const pool = new CpuPool(workers);
  let done = 0;
  try {
    return await Promise.all(
      jobs.map((job) =>
        pool.run(job).then((r) => {
          onProgress?.(++done, jobs.length);
          return r;
        }),
      ),
    );
  } finally {
    await pool.close();
  }
}
