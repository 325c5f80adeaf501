// Whole-trace properties on real data under memory pressure, for every scheduler and every router
// (docs/semantics.md, "Invariants": INV-1..5), and over random configurations of every policy.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resolveProfile } from '../../src/model/profile.js';
import { firstDifference, summarizeRaw, type RawMetrics } from '../../src/metrics/record.js';
import { defaultBatching, SCHEDULER_NAMES } from '../../src/policy/engine/index.js';
import { ROUTER_NAMES } from '../../src/policy/router/index.js';
import { argminRotating, type Router } from '../../src/policy/router/types.js';
import { gpuPolicies, randomJobs } from '../../src/sim/compare.js';
import { simulate, Status, type PerRequestRows } from '../../src/sim/cpu/simulator.js';
import { resolveLane, type Lane, type LaneSpec } from '../../src/sim/lane.js';
import { loadTrace } from '../../src/trace/readers.js';
import { parseSyntheticSpec } from '../../src/trace/synthetic.js';
import { scaleTrace, windowTrace, type Trace } from '../../src/trace/trace.js';

const azure = loadTrace(new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname);
// Ten busy minutes at 6x the recorded rate on 3 small replicas: queues, preemption storms.
const trace = scaleTrace(windowTrace(azure, 600, 600), 6);

const spec = (router: string, scheduler: string, seed = 3): LaneSpec => ({
  replicas: 3,
  router: { name: router },
  scheduler: { name: scheduler },
  profile: resolveProfile('llama3-8b-h100', { kvBlocks: 1500, maxBatchedTokens: scheduler === 'chunked-prefill' ? 1024 : undefined }),
  seed,
});

/** INV-4 request conservation and INV-1's bound on the KV samples, from a run's rows and record. */
function expectConserved(t: Trace, lane: Lane, raw: RawMetrics, rows: PerRequestRows): void {
  let done = 0;
  let tokens = 0;
  for (let i = 0; i < rows.status.length; i++) {
    expect([Status.Done, Status.RejectedKvCapacity, Status.RejectedMaxModelLen]).toContain(rows.status[i]);
    if (rows.status[i] === Status.Done) {
      done++;
      tokens += rows.outputTokens[i];
      expect(rows.finishUs[i]).toBeGreaterThanOrEqual(rows.firstTokenUs[i]);
      expect(rows.firstTokenUs[i]).toBeGreaterThan(rows.arrivalUs[i]);
    }
  }
  expect(raw.completed).toBe(done);
  expect(raw.completed + raw.rejectedKvCapacity + raw.rejectedMaxModelLen).toBe(t.arrivalUs.length);
  expect(raw.outputTokens).toBe(tokens);
  expect(raw.hist.ttft.count).toBe(done);
  expect(raw.hist.e2e.count).toBe(done);
  // One ITL sample per token after the first.
  expect(raw.hist.itl.count).toBe(tokens - done);
  expect(raw.hist.kv.max).toBeLessThanOrEqual(lane.profile.kvBlocks);
}

// Every scheduler behind round-robin and behind a token-aware router, every router in front of
// vLLM's FCFS and of LARRY, and every pair the GPU engine runs: each registered policy is covered
// without the full cross product.
const { routers: gpuRouters, schedulers: gpuSchedulers } = gpuPolicies();
const PAIRS = [
  ...gpuRouters.flatMap((r) => gpuSchedulers.map((s) => [r, s])),
  ...SCHEDULER_NAMES.flatMap((s) => [['round-robin', s], ['sal', s]]),
  ...ROUTER_NAMES.flatMap((r) => [[r, 'vllm-fcfs'], [r, 'larry']]),
].filter(([r, s], i, all) => all.findIndex(([r2, s2]) => r2 === r && s2 === s) === i);

describe.each(PAIRS)('%s x %s', (router, scheduler) => {
  const lane = resolveLane(spec(router, scheduler));
  const { raw, perRequest } = simulate(trace, lane, { perRequest: true, checkInvariants: true });

  it('finishes or rejects every request exactly once and generates exactly the requested tokens (INV-4)', () => {
    expectConserved(trace, lane, raw, perRequest!);
  });

  it('is unchanged by fast-forward (INV-5)', () => {
    expect(firstDifference(raw, simulate(trace, lane, { fastForward: false }).raw)).toBeNull();
  });
});

describe('random configurations of every policy and predictor', () => {
  // Small windows keep this quick; the draw covers memory pressure, tiny batch limits, block sizes 1..32.
  const jobs = randomJobs(windowTrace(azure, 0, 900), 24, 4242, 'all');
  it.each(jobs.map((job, i) => [i, job.spec.router.name, job.spec.scheduler.name, job.spec.predictor?.name ?? 'oracle', job] as const))(
    '#%i %s x %s (predictor %s): invariants hold, requests are conserved, fast-forward changes nothing',
    (_i, _r, _s, _p, job) => {
      const lane = resolveLane(job.spec);
      const { raw, perRequest } = simulate(job.trace, lane, { perRequest: true, checkInvariants: true });
      expectConserved(job.trace, lane, raw, perRequest!);
      expect(firstDifference(raw, simulate(job.trace, lane, { fastForward: false }).raw)).toBeNull();
    },
  );
  it('draws every scheduler with a reserve or ratio rule and a predicted-length router at least once', () => {
    const names = new Set(jobs.flatMap((j) => [j.spec.router.name, j.spec.scheduler.name]));
    for (const n of ['larry', 'sglang', 'sal']) expect(names).toContain(n);
  });
});

// TensorRT-LLM's arrival pass visits requests in vLLM v1's order whenever the victim is the newest
// started request (docs/policies.md), so the two FCFS schedulers must agree record for record.
describe('trtllm-max-utilization and chunked-prefill', () => {
  it('give identical records on random configurations (watermark 0)', () => {
    for (const job of randomJobs(windowTrace(azure, 0, 600), 30, 77, 'all')) {
      const run = (name: string) => simulate(job.trace, resolveLane({ ...job.spec, scheduler: { name, params: { watermarkPermille: 0 } } })).raw;
      expect(firstDifference(run('chunked-prefill'), run('trtllm-max-utilization'))).toBeNull();
    }
  });
});

// Light load: decode folds run on across arrivals routed to other replicas (docs/design.md §3), which
// must not change any record, nor what token-aware routers see at each arrival.
describe('fast-forward across arrivals routed elsewhere', () => {
  const light = windowTrace(azure, 0, 300);
  const fewestTokens: Router = {
    name: 'test-fewest-tokens',
    summary: 'fewest prompt tokens to prefill plus output tokens to decode',
    params: z.object({}).strict(),
    route: (view, request) =>
      argminRotating(view.replicas, request.index, (r) => view.queuedPrefillTokens[r] + view.remainingDecodeTokens[r]),
  };
  it.each(SCHEDULER_NAMES)('leaves every record unchanged (%s, every router and a token-aware one)', (scheduler) => {
    for (const router of [...ROUTER_NAMES, fewestTokens.name]) {
      const base = resolveLane({ ...spec(router === fewestTokens.name ? 'round-robin' : router, scheduler), replicas: 4 });
      const lane = router === fewestTokens.name ? { ...base, router: fewestTokens } : base;
      const folded = simulate(light, lane, { checkInvariants: true }).raw;
      expect(firstDifference(folded, simulate(light, lane, { fastForward: false }).raw), router).toBeNull();
    }
  });
});

describe('memory pressure', () => {
  it('preempts under this load, and more with less KV cache', () => {
    const run = (kvBlocks: number) =>
      simulate(trace, resolveLane({ ...spec('round-robin', 'vllm-fcfs'), profile: resolveProfile('llama3-8b-h100', { kvBlocks }) })).raw.preemptions;
    const tight = run(1200);
    expect(tight).toBeGreaterThan(0);
    expect(tight).toBeGreaterThan(run(6000));
  });

  it('never preempts under trtllm-guaranteed-no-evict, whose reservations cover every started request', () => {
    for (const maxTokens of ['trace-output', 'max-model-len']) {
      const lane = resolveLane({ ...spec('round-robin', 'trtllm-guaranteed-no-evict'), scheduler: { name: 'trtllm-guaranteed-no-evict', params: { maxTokens } } });
      expect(simulate(trace, lane).raw.preemptions, maxTokens).toBe(0);
    }
  });
});

describe('determinism', () => {
  it('gives identical JSON for the same seed and config', () => {
    const lane = resolveLane(spec('power-of-two', 'sjf', 11));
    const a = JSON.stringify(summarizeRaw(simulate(trace, lane).raw, lane.profile.kvBlocks, lane.slo));
    const b = JSON.stringify(summarizeRaw(simulate(trace, lane).raw, lane.profile.kvBlocks, lane.slo));
    expect(a).toBe(b);
  });

  it('changes random routing with the seed', () => {
    const raws = [1, 2].map((seed) => simulate(trace, resolveLane(spec('random', 'vllm-fcfs', seed))).raw);
    expect(firstDifference(raws[0], raws[1])).not.toBeNull();
  });
});

// Prefix caching on (INV-1 with shared and evictable cached blocks, INV-4, INV-5) over traces with
// prefix hashes: multi-turn sessions and Mooncake, under memory pressure.
describe('prefix caching on', () => {
  const sessions = parseSyntheticSpec('sessions:rate=1,duration=120,seed=5,turns=4,think=5,system_prompts=3,system_tokens=700');
  const mooncake = windowTrace(loadTrace(new URL('../../traces/mooncake-conversation-10min.jsonl', import.meta.url).pathname), 0, 90);
  const cachedSpec = (router: string, scheduler: string, t: Trace): LaneSpec => ({
    replicas: 3,
    router: { name: router },
    scheduler: { name: scheduler },
    profile: resolveProfile('llama3-8b-h100', {
      kvBlocks: t === mooncake ? 9000 : 600,
      maxModelLen: t === mooncake ? 131072 : 8192,
      maxBatchedTokens: defaultBatching(scheduler).wholePrompts ? (t === mooncake ? 131072 : 8192) : 2048,
    }),
    seed: 3,
    prefixCache: 'on',
  });
  const CACHED_PAIRS = [
    ...SCHEDULER_NAMES.map((s) => ['prefix-affinity', s]),
    ...ROUTER_NAMES.filter((r) => r !== 'prefix-affinity').map((r) => [r, 'chunked-prefill']),
    ['prefix-score', 'sglang'],
  ];
  describe.each(CACHED_PAIRS)('%s x %s on sessions', (router, scheduler) => {
    it('holds the invariants, conserves requests, caches prefixes and is unchanged by fast-forward', () => {
      const lane = resolveLane(cachedSpec(router, scheduler, sessions));
      const { raw, perRequest } = simulate(sessions, lane, { perRequest: true, checkInvariants: true });
      expectConserved(sessions, lane, raw, perRequest!);
      expect(raw.prefixHitTokens).toBeGreaterThan(0);
      expect(firstDifference(raw, simulate(sessions, lane, { fastForward: false }).raw)).toBeNull();
    });
  });
  it.each(['vllm-fcfs', 'chunked-prefill', 'sglang'])('holds on 90 s of Mooncake (%s behind prefix-affinity), with evictions', (scheduler) => {
    const lane = resolveLane(cachedSpec('prefix-affinity', scheduler, mooncake));
    const { raw, perRequest } = simulate(mooncake, lane, { perRequest: true, checkInvariants: true });
    expectConserved(mooncake, lane, raw, perRequest!);
    expect(raw.prefixEvictedBlocks).toBeGreaterThan(0);
    expect(firstDifference(raw, simulate(mooncake, lane, { fastForward: false }).raw)).toBeNull();
  });
  const jobs = [...randomJobs(sessions, 12, 612, 'all'), ...randomJobs(mooncake, 12, 613, 'all')];
  it.each(jobs.map((job, i) => [i, job.spec.router.name, job.spec.scheduler.name, job.spec.prefixCache ?? 'off', job] as const))(
    'random #%i %s x %s (prefix cache %s): invariants hold, requests are conserved, fast-forward changes nothing',
    (_i, _r, _s, _c, job) => {
      const lane = resolveLane(job.spec);
      const { raw, perRequest } = simulate(job.trace, lane, { perRequest: true, checkInvariants: true });
      expectConserved(job.trace, lane, raw, perRequest!);
      expect(firstDifference(raw, simulate(job.trace, lane, { fastForward: false }).raw)).toBeNull();
    },
  );
  it('draws caching on and off', () => {
    expect(new Set(jobs.map((j) => j.spec.prefixCache ?? 'off'))).toEqual(new Set(['on', 'off']));
  });
});
