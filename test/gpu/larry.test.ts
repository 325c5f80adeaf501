// larry's WGSL twin against the CPU reference where its rules differ from vLLM's: the victim with
// the fewest computed tokens (also one already scheduled in the step, and the request itself in the
// middle of the running list), reservation admission (refused, and forced on an empty replica),
// its u64 key with aging 0 and large, under both batchings. The CPU run counts those decisions, so
// a sweep that stopped making them would fail rather than pass vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { larry } from '../../src/policy/engine/larry.js';
import { ceilDiv } from '../../src/policy/engine/types.js';
import { CpuBatchContext } from '../../src/sim/cpu/batch-context.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { burstTrace, makeTrace, tinySpec } from '../helpers.js';
import { batchingOf, expectTwinDecisions, simulateWithRules } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Victims whose step in the batch being formed was withdrawn. */
  withdrawn: number;
  /** Requests that preempted themselves with running requests after them (the walk goes on). */
  selfInMiddle: number;
  /** Waiting requests refused by the reservation. */
  refused: number;
  /** Forced admissions (nothing running) of requests the reservation would have refused. */
  forced: number;
}
const none = (): Decisions => ({ withdrawn: 0, selfInMiddle: 0, refused: 0, forced: 0 });

/** The CPU record of a job, counting larry's decisions into `d` (by wrapping the CPU engine's hooks). */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  const preempt = CpuBatchContext.prototype.preempt;
  CpuBatchContext.prototype.preempt = function (this: CpuBatchContext, j: number) {
    const pos = this.running.indexOf(j);
    // scheduleRunning has scheduled every request before its position and none after it.
    if (this.scheduled(j)) d.withdrawn++;
    else if (pos < this.running.length - 1 && this.running.slice(0, pos).every((k) => this.scheduled(k))) d.selfInMiddle++;
    return preempt.call(this, j);
  };
  try {
    return simulateWithRules<{ reservePermille: number }>(job, larry, (r, p, lane) => {
      const admission = r.admission!;
      return {
        ...r,
        admission: {
          begin: (ctx) => admission.begin(ctx),
          admit(ctx, j, tokens, force) {
            const t = ctx.requests;
            const target = Math.max(t.prefillTarget[j], t.promptTokens[j] + Math.floor((p.reservePermille * t.predicted[j]) / 1000));
            // Nothing runs when forced, so nothing is reserved yet.
            if (force && ceilDiv(target, lane.blockSize) > ctx.freeBlocks() - lane.watermarkBlocks) d.forced++;
            const ok = admission.admit(ctx, j, tokens, force);
            if (!ok) d.refused++;
            return ok;
          },
        },
      };
    });
  } finally {
    CpuBatchContext.prototype.preempt = preempt;
  }
}

describe('larry on the GPU engine', () => {
  it('equals the CPU reference on victims, self-preemption and reservation, under both batchings', async () => {
    const traces = [burstTrace(1, 40), burstTrace(7, 60), makeTrace([[0, 4, 4], [0, 8, 8]]), makeTrace([[0, 4, 20], [0, 8, 2]])];
    const jobs: Job[] = [];
    for (const batching of ['chunked', 'prefill-first'])
      for (const trace of traces)
        for (const kvBlocks of [4, 9, 16])
          for (const [agingTokensPerS, reservePermille] of [[0, 0], [100_000, 1000], [0, 4000], [37, 500]])
            jobs.push({
              trace,
              spec: tinySpec('larry', { kvBlocks, maxNumSeqs: kvBlocks > 4 ? 8 : 4 }, {
                replicas: trace.arrivalUs.length > 10 ? 2 : 1,
                schedulerParams: { watermarkPermille: 0, agingTokensPerS, reservePermille, batching },
              }),
            });
    await expectTwinDecisions('larry', jobs, batchingOf, none, cpuRecord);
  });
});
