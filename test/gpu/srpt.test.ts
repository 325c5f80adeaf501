// srpt's WGSL twin against the CPU reference where its rules differ from vLLM's: proactive
// preemption of the request with the most predicted remaining output for a waiting head that
// cannot start, that victim on a block shortage (also one already scheduled in the step), and the
// key computed again when a preempted request is queued with part of its output generated. The CPU
// run counts those decisions, so a sweep that stopped making them would fail rather than pass
// vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { srpt } from '../../src/policy/engine/srpt.js';
import { CpuBatchContext } from '../../src/sim/cpu/batch-context.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { burstTrace, makeTrace, tinySpec } from '../helpers.js';
import { batchingOf, expectTwinDecisions, simulateWithRules } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Running requests displaced by a waiting head. */
  displaced: number;
  /** Victims whose step in the batch being formed was withdrawn. */
  withdrawn: number;
  /** Victims other than the running list's last request (FCFS's victim). */
  notLast: number;
  /** Preempted requests queued again with part of their output generated (a new key). */
  rekeyed: number;
}
const none = (): Decisions => ({ displaced: 0, withdrawn: 0, notLast: 0, rekeyed: 0 });

/** The CPU record of a job, counting the scheduler's decisions into `d` (by wrapping its rules and the CPU engine's hooks). */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  const { preempt } = CpuBatchContext.prototype;
  CpuBatchContext.prototype.preempt = function (this: CpuBatchContext, j: number) {
    if (this.scheduled(j)) d.withdrawn++;
    if (this.running.indexOf(j) !== this.running.length - 1) d.notLast++;
    if (this.requests.generated[j] > 0) d.rekeyed++;
    return preempt.call(this, j);
  };
  try {
    return simulateWithRules(job, srpt, (r) => ({
      ...r,
      displaces: (t, h, v) => {
        const yes = r.displaces!(t, h, v);
        if (yes) d.displaced++;
        return yes;
      },
    }));
  } finally {
    CpuBatchContext.prototype.preempt = preempt;
  }
}

describe('srpt on the GPU engine', () => {
  it('equals the CPU reference on displacement, victims and keys, under both batchings', async () => {
    const traces = [burstTrace(5, 40), burstTrace(13, 60), makeTrace([[0, 4, 20], [0, 8, 2], [1000, 2, 12]])];
    const jobs: Job[] = [];
    for (const batching of ['chunked', 'prefill-first'])
      for (const trace of traces)
        for (const kvBlocks of [4, 9, 16])
          for (const preemptMarginTokens of [0, 4, 1 << 24])
            jobs.push({
              trace,
              spec: tinySpec('srpt', { kvBlocks, maxNumSeqs: kvBlocks > 4 ? 8 : 2 }, {
                replicas: trace.arrivalUs.length > 10 ? 2 : 1,
                schedulerParams: { watermarkPermille: 0, preemptMarginTokens, batching },
              }),
            });
    await expectTwinDecisions('srpt', jobs, batchingOf, none, cpuRecord);
  });
});
