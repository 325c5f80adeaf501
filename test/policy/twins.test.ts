// Policies without a WGSL twin stay off the GPU engine: the differential draw skips them and the
// engine runs their lanes on the CPU reference, saying why.
import { describe, expect, it } from 'vitest';
import { SCHEDULER_NAMES } from '../../src/policy/engine/index.js';
import { PREDICTOR_NAMES } from '../../src/policy/predictor/index.js';
import { ROUTER_NAMES } from '../../src/policy/router/index.js';
import { hasWgslTwin } from '../../src/policy/twins.js';
import { gpuPolicies, gridJobs, randomJobs } from '../../src/sim/compare.js';
import { gpuEligibility } from '../../src/sim/gpu/engine.js';
import { resolveLane } from '../../src/sim/lane.js';
import { loadTrace } from '../../src/trace/readers.js';
import { windowTrace } from '../../src/trace/trace.js';
import { resolveProfile } from '../../src/model/profile.js';
import { makeTrace, tinySpec, withPrefixes } from '../helpers.js';

const trace = windowTrace(loadTrace(new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname), 0, 120);

describe('WGSL twins', () => {
  it('are found beside the TypeScript modules', () => {
    for (const s of ['vllm-fcfs', 'chunked-prefill', 'sjf', 'larry']) expect(hasWgslTwin('scheduler', s)).toBe(true);
    expect(hasWgslTwin('router', 'least-kv')).toBe(true);
    expect(hasWgslTwin('scheduler', 'no-such-scheduler')).toBe(false);
  });

  it('decide what the GPU differential test and the benchmark grid draw', () => {
    const { routers, schedulers } = gpuPolicies();
    expect(routers).toEqual(ROUTER_NAMES.filter((r) => hasWgslTwin('router', r)));
    expect(schedulers).toEqual(SCHEDULER_NAMES.filter((s) => hasWgslTwin('scheduler', s)));
    for (const job of [...randomJobs(trace, 60, 3), ...gridJobs(trace, 60)]) {
      expect(routers).toContain(job.spec.router.name);
      expect(schedulers).toContain(job.spec.scheduler.name);
    }
    // The prefix routers only on traces with prefix hashes (Azure has none).
    const prefixRouters = ['prefix-affinity', 'prefix-score'];
    expect(routers).toEqual(expect.arrayContaining(prefixRouters));
    const drawn = (jobs: { spec: { router: { name: string } } }[]) => new Set(jobs.map((j) => j.spec.router.name));
    for (const r of prefixRouters) expect(drawn([...randomJobs(trace, 200, 3), ...gridJobs(trace, 200)]).has(r)).toBe(false);
    const mooncake = windowTrace(loadTrace(new URL('../../traces/mooncake-conversation-10min.jsonl', import.meta.url).pathname), 0, 120);
    for (const r of prefixRouters) expect(drawn(randomJobs(mooncake, 60, 3)).has(r)).toBe(true);
  });

  it('send a lane to the CPU reference with the reason when its router or scheduler has none', () => {
    const why = (router: string, scheduler: string) => gpuEligibility(resolveLane({ ...tinySpec(scheduler), router: { name: router } }), null);
    expect(why('round-robin', 'vllm-fcfs')).toBeNull();
    for (const s of SCHEDULER_NAMES.filter((n) => !hasWgslTwin('scheduler', n))) {
      expect(why('round-robin', s)).toBe(`scheduler ${s} has no WGSL twin yet`);
    }
    for (const r of ROUTER_NAMES.filter((n) => !hasWgslTwin('router', n))) {
      expect(why(r, 'vllm-fcfs')).toBe(`router ${r} has no WGSL twin yet`);
    }
  });

  it('run the prefix routers on the GPU while their memory fits its budget', () => {
    const hashed = withPrefixes(makeTrace([[0, 32, 4]]), [[1, 2]], 16);
    const why = (router: string, replicas: number, capacityPermille: number, trace = hashed) =>
      gpuEligibility(resolveLane({ replicas, router: { name: router, params: { capacityPermille } }, scheduler: { name: 'vllm-fcfs' }, profile: resolveProfile('llama3-8b-h100'), seed: 0 }), null, trace);
    // 26,624 chain ids per replica (the KV capacity in 16-token units): 0.55 MiB of index each.
    for (const router of ['prefix-affinity', 'prefix-score']) {
      expect(why(router, 57, 1000)).toBeNull();
      expect(why(router, 58, 1000)).toBe("its prefix router's memory takes 32.2 MiB (58 replicas x 26624 prefix units), above the GPU engine's 32 MiB budget");
      // Without prefix hashes the router keeps no index, only its views' snapshot.
      expect(why(router, 128, 1_000_000, makeTrace([[0, 32, 4]]))).toBeNull();
    }
  });

  it('run larry on the GPU with every predictor, within its integer headroom on the predictions', () => {
    const lane = (predictor: string, agingTokensPerS = 100, reservePermille = 500, params: Record<string, unknown> = {}) =>
      resolveLane({ ...tinySpec('larry', {}, { schedulerParams: { watermarkPermille: 0, agingTokensPerS, reservePermille } }), predictor: { name: predictor, params } });
    for (const p of PREDICTOR_NAMES) expect(gpuEligibility(lane(p), null, trace)).toBeNull();
    // 100,000 tokens/s of aging x an arrival at 2^48 µs (8.9 years) passes 2^64.
    const late = makeTrace([[0, 4, 4], [2 ** 48, 4, 4]]);
    expect(gpuEligibility(lane('oracle', 65_000), null, late)).toBeNull();
    expect(gpuEligibility(lane('oracle', 100_000), null, late)).toBe('larry key (prompt + predicted) x 10^6 + agingTokensPerS x arrival µs can reach 2^64');
    const long = makeTrace([[0, 1, 2 ** 30]]);
    expect(gpuEligibility(lane('oracle', 0, 1000), null, long)).toBeNull();
    expect(gpuEligibility(lane('oracle', 0, 2000), null, long)).toBe('larry reserve target prompt + reservePermille x predicted / 1000 can reach 2^31 tokens');
    // The headroom is the predictions': short outputs predicted at the 2^24 clamp, and long ones predicted short.
    const short = makeTrace([[0, 2 ** 31 - 2 ** 23, 1]]);
    expect(gpuEligibility(lane('oracle', 0, 1000), null, short)).toBeNull();
    expect(gpuEligibility(lane('noisy', 0, 1000, { sigma: 4 }), null, makeTrace([[0, 2 ** 31 - 2 ** 23, 2 ** 24]]))).toBe(
      'larry reserve target prompt + reservePermille x predicted / 1000 can reach 2^31 tokens',
    );
    expect(gpuEligibility(lane('bucket', 0, 2000), null, long)).toBeNull(); // predicted 2^24 (the clamp)
  });

  it('run a lane whose router reads predicted remaining output on the GPU with every predictor', () => {
    const why = (router: string, predictor: string) => gpuEligibility(resolveLane({ ...tinySpec('larry'), router: { name: router }, predictor: { name: predictor } }), null, trace);
    for (const router of ['sal', 'token-jsq']) for (const predictor of PREDICTOR_NAMES) expect(why(router, predictor)).toBeNull();
  });

  it('draw every predictor for the lanes of the GPU differential test that read predictions', () => {
    const jobs = randomJobs(trace, 300, 5);
    const drawn = (f: (j: (typeof jobs)[number]) => boolean) => new Set(jobs.filter(f).map((j) => j.spec.predictor?.name));
    expect(drawn((j) => j.spec.scheduler.name === 'larry' && !['sal', 'token-jsq'].includes(j.spec.router.name))).toEqual(new Set(PREDICTOR_NAMES));
    expect(drawn((j) => ['sal', 'token-jsq'].includes(j.spec.router.name))).toEqual(new Set(PREDICTOR_NAMES));
  });
});
