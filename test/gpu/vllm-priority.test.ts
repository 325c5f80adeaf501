// vllm-priority's WGSL twin against the CPU reference where its rules differ from vLLM's FCFS: the
// running list in admission order (a re-admitted request goes to the tail, behind requests it
// precedes in the waiting queue), and the victim with the largest (priority, arrival) wherever it
// sits in that list, also one already scheduled in the step. The CPU run counts those decisions, so
// a sweep that stopped making them would fail rather than pass vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { CpuBatchContext } from '../../src/sim/cpu/batch-context.js';
import { simulate } from '../../src/sim/cpu/simulator.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { resolveLane } from '../../src/sim/lane.js';
import { burstTrace, makeTrace, tinySpec } from '../helpers.js';
import { expectTwinDecisions } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Victims whose step in the batch being formed was withdrawn. */
  withdrawn: number;
  /** Victims other than the running list's last request (FCFS's victim). */
  notLast: number;
  /** Admissions after which the running list is out of (key, index) order. */
  outOfKeyOrder: number;
}

/** The CPU record of a job, counting the scheduler's decisions into `d` (by wrapping the CPU engine's hooks). */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  const { preempt, admit } = CpuBatchContext.prototype;
  CpuBatchContext.prototype.preempt = function (this: CpuBatchContext, j: number) {
    if (this.scheduled(j)) d.withdrawn++;
    if (this.running.indexOf(j) !== this.running.length - 1) d.notLast++;
    return preempt.call(this, j);
  };
  CpuBatchContext.prototype.admit = function (this: CpuBatchContext, j: number, tokens: number) {
    admit.call(this, j, tokens);
    const running = this.running;
    if (running.some((k, p) => p > 0 && this.requests.before(k, running[p - 1]))) d.outOfKeyOrder++;
  };
  try {
    return simulate(job.trace, resolveLane(job.spec)).raw;
  } finally {
    Object.assign(CpuBatchContext.prototype, { preempt, admit });
  }
}

describe('vllm-priority on the GPU engine', () => {
  it('equals the CPU reference on admission order and (priority, arrival) victims', async () => {
    const traces = [burstTrace(3, 40), burstTrace(11, 60), makeTrace([[0, 4, 20], [0, 8, 2], [1000, 2, 12]])];
    const jobs: Job[] = [];
    for (const trace of traces)
      for (const kvBlocks of [4, 9, 16])
        for (const priority of ['predicted-output', 'prompt', 'predicted-total'])
          for (const maxBatchedTokens of [8, 64])
            jobs.push({
              trace,
              spec: tinySpec('vllm-priority', { kvBlocks, maxNumSeqs: kvBlocks > 4 ? 8 : 4, maxBatchedTokens }, {
                replicas: trace.arrivalUs.length > 10 ? 2 : 1,
                schedulerParams: { watermarkPermille: 0, priority },
              }),
            });
    const none = (): Decisions => ({ withdrawn: 0, notLast: 0, outOfKeyOrder: 0 });
    await expectTwinDecisions('vllm-priority', jobs, () => 'chunked', none, cpuRecord);
  });
});
