// The GPU engine reads each lane's predicted output lengths, not the trace's: larry lanes, and sal
// and token-jsq lanes (whose predicted decode view routes them), with the noisy and bucket
// predictors give the CPU reference's records on the GPU. The predictions differ from the outputs
// and change the CPU records, so a GPU engine reading the outputs would fail. Needs the adapter.
import { afterAll, describe, expect, it } from 'vitest';
import { firstDifference } from '../../src/metrics/record.js';
import { resolveProfile } from '../../src/model/profile.js';
import { predictOutputs } from '../../src/policy/predictor/index.js';
import { runCpuJobs } from '../../src/sim/cpu/pool.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import { runGpuJobs, TraceBuffer } from '../../src/sim/gpu/engine.js';
import type { Job } from '../../src/sim/job.js';
import { resolveLane } from '../../src/sim/lane.js';
import { loadTrace } from '../../src/trace/readers.js';
import { scaleTrace, windowTrace } from '../../src/trace/trace.js';
import { makeTrace } from '../helpers.js';

const AZURE = new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname;

afterAll(async () => {
  await releaseDevice();
});

describe('predictors on the GPU engine', () => {
  it('give larry the lane predictor\'s output lengths, as on the CPU reference', async () => {
    const trace = scaleTrace(windowTrace(loadTrace(AZURE), 0, 40), 8);
    const job = (predictor: { name: string; params?: Record<string, unknown> }, schedulerParams: Record<string, unknown>): Job => ({
      trace,
      spec: {
        replicas: 2,
        router: { name: 'round-robin' },
        scheduler: { name: 'larry', params: schedulerParams },
        predictor,
        // Few blocks: the reservation refuses admissions and the victim rule preempts.
        profile: resolveProfile('llama3-8b-h100', { kvBlocks: 600, maxModelLen: 4096 }),
        seed: 11,
      },
    });
    const predictors = [{ name: 'noisy', params: { sigma: 1 } }, { name: 'bucket' }];
    const settings = [{ agingTokensPerS: 0, reservePermille: 1000 }, { agingTokensPerS: 100, reservePermille: 500, batching: 'prefill-first' }];
    const jobs = settings.flatMap((s) => [job({ name: 'oracle' }, s), ...predictors.map((p) => job(p, s))]);

    for (const j of jobs.filter((j) => j.spec.predictor!.name !== 'oracle')) {
      const lane = resolveLane(j.spec);
      const predicted = predictOutputs(trace, lane.predictor, lane.predictorParams, lane.seed);
      const off = predicted.filter((p, i) => p !== trace.outputTokens[i]).length;
      expect(off).toBeGreaterThan(trace.outputTokens.length / 2);
    }
    const cpu = await runCpuJobs(jobs, 2);
    // Each predictor's CPU record differs from the oracle lane's with the same settings.
    for (let k = 0; k < jobs.length; k++) {
      if (k % 3 !== 0) expect(firstDifference(cpu[k - (k % 3)].raw, cpu[k].raw)).not.toBeNull();
    }
    // The oracle lanes' GPU records are the other differential tests' business.
    const predicted = jobs.filter((_, k) => k % 3 !== 0);
    const gpu = await runGpuJobs(predicted, { raceTail: false });
    expect(gpu.results.map((r) => r.fallback ?? r.engine)).toEqual(predicted.map(() => 'gpu'));
    expect(predicted.map((j, k) => firstDifference(cpu[jobs.indexOf(j)].raw, gpu.results[k].raw))).toEqual(predicted.map(() => null));
  });
});

describe('the predicted decode view on the GPU engine', () => {
  it("routes sal and token-jsq by the lane predictor's remaining output, as on the CPU reference", async () => {
    const trace = scaleTrace(windowTrace(loadTrace(AZURE), 0, 60), 6);
    const job = (router: [string, Record<string, unknown>], predictor: { name: string; params?: Record<string, unknown> }, scheduler: string): Job => ({
      trace,
      spec: {
        replicas: 3,
        router: { name: router[0], params: router[1] },
        scheduler: { name: scheduler },
        predictor,
        // Few blocks: preemptions re-queue requests whose prediction is partly spent.
        profile: resolveProfile('llama3-8b-h100', { kvBlocks: 1200, maxBatchedTokens: 2048, maxModelLen: 2048 }),
        seed: 5,
      },
    });
    const routers: [string, Record<string, unknown>][] = [['sal', { prefillWeight: 0, decodeWeight: 1, kvPressureWeight: 0 }], ['token-jsq', {}]];
    const predictors = [{ name: 'oracle' }, { name: 'noisy', params: { sigma: 1 } }, { name: 'bucket' }];
    // vllm-fcfs reads no prediction: the predictors change these lanes only through the router's view.
    const jobs = ['vllm-fcfs', 'chunked-prefill'].flatMap((s) => routers.flatMap((r) => predictors.map((p) => job(r, p, s))));
    const cpu = await runCpuJobs(jobs, 2);
    for (let k = 0; k < jobs.length; k++) {
      if (k % 3 !== 0) expect(firstDifference(cpu[k - (k % 3)].raw, cpu[k].raw)).not.toBeNull();
    }
    const gpu = await runGpuJobs(jobs, { raceTail: false });
    expect(gpu.results.map((r) => r.fallback ?? r.engine)).toEqual(jobs.map(() => 'gpu'));
    expect(jobs.map((_, k) => firstDifference(cpu[k].raw, gpu.results[k].raw))).toEqual(jobs.map(() => null));
  });
});

describe('the trace buffer', () => {
  it('shares one copy of equal predictions and refuses predictions past the binding limit', () => {
    const trace = makeTrace([[0, 4, 4], [1, 4, 4]]);
    const job: Job = { trace, spec: { replicas: 1, router: { name: 'round-robin' }, scheduler: { name: 'larry' }, profile: resolveProfile('tiny-test'), seed: 0 } };
    const buffer = new TraceBuffer([job, job], 4 * 2 + 3);
    const a = Uint32Array.of(5, 6);
    expect(buffer.place(a)).toBe(8);
    expect(buffer.place(a)).toBe(8);
    expect(buffer.place(Uint32Array.of(7, 8))).toBeNull();
    expect(buffer.place(Uint32Array.of(9))).toBe(10);
    expect([...buffer.words()]).toEqual([0, 0, 4, 4, 1, 0, 4, 4, 5, 6, 9]);
  });
});
