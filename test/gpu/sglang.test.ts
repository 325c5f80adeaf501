// sglang's WGSL twin against the CPU reference where its rules differ from vLLM's: prefill-priority
// batching, admission by the new-token ratio (refused, and forced on an empty replica), retraction
// of the requests with the fewest generated tokens before a decode iteration and the ratio's jump
// after it, requests queued again at the back (key = queueing time). The CPU run counts those
// decisions, so a sweep that stopped making them would fail rather than pass vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { sglang } from '../../src/policy/engine/sglang.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { burstTrace, makeTrace, tinySpec } from '../helpers.js';
import { expectTwinDecisions, simulateWithRules } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Waiting requests the ratio admission refused. */
  refused: number;
  /** Admissions forced on an empty replica that the ratio would have refused. */
  forced: number;
  /** Decode iterations before which requests were retracted. */
  retractions: number;
  /** Replicas going idle with a ratio other than the initial one (reset). */
  idleResets: number;
}
const none = (): Decisions => ({ refused: 0, forced: 0, retractions: 0, idleResets: 0 });

/** The CPU record of a job, counting the scheduler's decisions into `d` (by wrapping its rules). */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  return simulateWithRules(job, sglang, (r) => {
    const admission = r.admission!;
    return {
      ...r,
      admission: {
        begin: (ctx) => admission.begin(ctx),
        admit(ctx, j, tokens, force) {
          const ok = admission.admit(ctx, j, tokens, false);
          if (ok) return true;
          if (force) {
            d.forced++;
            return admission.admit(ctx, j, tokens, true);
          }
          d.refused++;
          return false;
        },
      },
      onIdle: (words) => {
        const before = words[0];
        r.onIdle!(words);
        if (words[0] !== before) d.idleResets++;
      },
      beforeDecode: (ctx) => {
        const running = ctx.running.length;
        r.beforeDecode!(ctx);
        if (ctx.running.length < running) d.retractions++;
      },
    };
  });
}

describe('sglang on the GPU engine', () => {
  it('equals the CPU reference on ratio admission, retraction and requeueing', async () => {
    const burst = (at: number) => Array.from({ length: 6 }, (_, i): [number, number, number] => [at, 2 + 3 * i, 12 - i]);
    const traces = [burstTrace(29, 40), burstTrace(31, 60), makeTrace([[0, 4, 20], [0, 8, 2], [1000, 2, 12]]), makeTrace([...burst(0), ...burst(3_000_000)])];
    const sets = [
      {},
      { maxTokens: 'max-model-len' },
      { initNewTokenRatio: 0.3, newTokenRatioDecaySteps: 5, retractDecodeSteps: 4 },
      { clipMaxNewTokens: 3, minNewTokenRatioFactor: 0.5, retractDecodeSteps: 0 },
      { schedulePolicy: 'lpm', initNewTokenRatio: 1, newTokenRatioDecaySteps: 1 },
    ];
    const jobs: Job[] = [];
    for (const trace of traces)
      for (const kvBlocks of [4, 9, 16])
        for (const set of sets)
          jobs.push({
            trace,
            spec: tinySpec('sglang', { kvBlocks, maxNumSeqs: kvBlocks > 4 ? 8 : 3, maxBatchedTokens: kvBlocks > 9 ? 64 : 8 }, {
              replicas: trace.arrivalUs.length > 10 ? 2 : 1,
              schedulerParams: { watermarkPermille: 0, ...set },
            }),
          });
    await expectTwinDecisions('sglang', jobs, () => 'prefill-priority', none, cpuRecord);
  });

  it('keeps its queue order when the clock origin moves (keys are queueing times)', async () => {
    // Requests queue on one small replica across 2^31 µs, where the shader moves its clock origin:
    // keys stored before the move and computed after it must still compare as times do.
    const at = 2 ** 31 - 500_000;
    const trace = makeTrace(Array.from({ length: 200 }, (_, i): [number, number, number] => [at + i * 5_000, 1 + ((i * 7) % 16), 1 + ((i * 5) % 15)]));
    const jobs: Job[] = [0.3, 1].map((initNewTokenRatio) => ({
      trace,
      spec: tinySpec('sglang', { kvBlocks: 6, maxNumSeqs: 2, maxBatchedTokens: 8 }, { schedulerParams: { watermarkPermille: 0, initNewTokenRatio } }),
    }));
    await expectTwinDecisions('sglang', jobs, () => 'rebase', none, cpuRecord);
  });
});
