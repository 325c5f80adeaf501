// mlfq's WGSL twin against the CPU reference where its rules differ from vLLM's: skip-join levels
// from the prompt, demotion after a level's quantum (a key change that moves a running request in
// the running list and stops a fold), and proactive preemption of the last running request by a
// waiting head of a higher level. The CPU run counts those decisions, so a sweep that stopped
// making them would fail rather than pass vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { mlfq } from '../../src/policy/engine/mlfq.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { burstTrace, makeTrace, tinySpec } from '../helpers.js';
import { batchingOf, expectTwinDecisions, simulateWithRules } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Requests that joined below the top level (skip-join). */
  skipJoined: number;
  /** Demotions (key changes after a quantum). */
  demoted: number;
  /** Running requests displaced by a waiting head. */
  displaced: number;
}
const none = (): Decisions => ({ skipJoined: 0, demoted: 0, displaced: 0 });

/** The CPU record of a job, counting the scheduler's decisions into `d` (by wrapping its rules). */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  return simulateWithRules(job, mlfq, (r) => ({
    ...r,
    initRequest: (t, j) => {
      r.initRequest!(t, j);
      if (t.words[j * mlfq.requestWords!] > 0) d.skipJoined++;
    },
    rekeyAfterTokens: (t, j) => {
      const yes = r.rekeyAfterTokens!(t, j);
      if (yes) d.demoted++;
      return yes;
    },
    displaces:
      r.displaces &&
      ((t, h, v) => {
        const yes = r.displaces!(t, h, v);
        if (yes) d.displaced++;
        return yes;
      }),
  }));
}

describe('mlfq on the GPU engine', () => {
  it('equals the CPU reference on skip-join, demotion and displacement, under both batchings', async () => {
    const traces = [burstTrace(17, 40), burstTrace(23, 60), makeTrace([[0, 4, 20], [0, 30, 1], [1000, 2, 12], [1000, 1, 30]])];
    const sets = [
      { levels: 3, baseQuantum: 2, quantumGrowth: 2, promptTokensPerQuantumToken: 4 },
      { levels: 16, baseQuantum: 1, quantumGrowth: 1, promptTokensPerQuantumToken: 1 },
      { levels: 4, baseQuantum: 3, quantumGrowth: 16, promptTokensPerQuantumToken: 2, preemptive: false },
      {},
    ];
    const jobs: Job[] = [];
    for (const batching of ['chunked', 'prefill-first'])
      for (const trace of traces)
        for (const kvBlocks of [4, 16])
          for (const set of sets)
            jobs.push({
              trace,
              spec: tinySpec('mlfq', { kvBlocks, maxNumSeqs: kvBlocks > 4 ? 8 : 2 }, {
                replicas: trace.arrivalUs.length > 10 ? 2 : 1,
                schedulerParams: { watermarkPermille: 0, ...set, batching },
              }),
            });
    await expectTwinDecisions('mlfq', jobs, batchingOf, none, cpuRecord);
  });
});
