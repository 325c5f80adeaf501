// The prefix cache's WGSL twin (shaders/engine/cache.wgsl) against the CPU reference, on Mooncake
// windows and a sessions: workload under memory pressure, for the schedulers whose GPU twins read
// the cache (whole-prompt and chunked admission, sglang's prefill-priority batching in FCFS order,
// trtllm-max-utilization's arrival pass; SCHEDLAB_TEST_CACHE_SCHEDULERS picks some). The CPU run counts the cache's decisions: prefix
// hits (and revived evictable entries) at admission, blocks inserted as shared with a running
// request or revived, evictions while a batch is formed and inside a fast-forward fold,
// preemptions of requests holding cached blocks; a sweep that stopped making one would fail rather
// than pass vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { resolveProfile } from '../../src/model/profile.js';
import { defaultBatching } from '../../src/policy/engine/index.js';
import { draw } from '../../src/rng.js';
import { gpuPolicies } from '../../src/sim/compare.js';
import { CpuBatchContext } from '../../src/sim/cpu/batch-context.js';
import { Inserted, PrefixCache } from '../../src/sim/cpu/prefix-cache.js';
import { Replica } from '../../src/sim/cpu/replica.js';
import { simulate } from '../../src/sim/cpu/simulator.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { resolveLane } from '../../src/sim/lane.js';
import { loadTrace } from '../../src/trace/readers.js';
import { parseSyntheticSpec } from '../../src/trace/synthetic.js';
import { windowTrace, type Trace } from '../../src/trace/trace.js';
import { makeTrace, withPrefixes } from '../helpers.js';
import { expectTwinDecisions, patched } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Admissions that found a cached prefix. */
  hits: number;
  /** Admissions whose cached prefix held evictable entries (taken back off the evictable list). */
  revivedAtAdmission: number;
  /** Computed blocks already cached and held by another running request. */
  sharedInUse: number;
  /** Computed blocks already cached as evictable entries. */
  sharedRevived: number;
  /** Entries evicted by blocks taken while a batch was formed. */
  evictions: number;
  /** Entries evicted by the blocks of fast-forwarded iterations. */
  foldEvictions: number;
  /** Preemptions of requests holding cached blocks (not under trtllm-guaranteed-no-evict, which never preempts). */
  cachedPreemptions?: number;
}
const none = (scheduler: string): Decisions => ({
  hits: 0,
  revivedAtAdmission: 0,
  sharedInUse: 0,
  sharedRevived: 0,
  evictions: 0,
  foldEvictions: 0,
  ...(scheduler === 'trtllm-guaranteed-no-evict' ? {} : { cachedPreemptions: 0 }),
});

/** The CPU record of a job, counting the cache's decisions into `d` (by wrapping the CPU cache's methods). */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  let forming = false; // blocks taken by a batch formation, not by a fold
  const run = () => simulate(job.trace, resolveLane(job.spec)).raw;
  return patched(PrefixCache.prototype, 'insert', (insert) => function (this: PrefixCache, j: number, i: number) {
    const outcome = insert.call(this, j, i);
    if (outcome === Inserted.SharedInUse) d.sharedInUse++;
    if (outcome === Inserted.SharedRevived) d.sharedRevived++;
    return outcome;
  }, () =>
    patched(PrefixCache.prototype, 'acquire', (acquire) => function (this: PrefixCache, j: number, n: number) {
      const revived = acquire.call(this, j, n);
      if (n > 0) d.hits++;
      if (revived > 0) d.revivedAtAdmission++;
      return revived;
    }, () =>
      patched(CpuBatchContext.prototype, 'allocate', (allocate) => function (this: CpuBatchContext, j: number, blocks: number) {
        forming = true;
        try {
          return allocate.call(this, j, blocks);
        } finally {
          forming = false;
        }
      }, () =>
        patched(CpuBatchContext.prototype, 'preempt', (preempt) => function (this: CpuBatchContext, j: number) {
          if (this.requests.cachedBlocks[j] > 0) d.cachedPreemptions = (d.cachedPreemptions ?? 0) + 1;
          return preempt.call(this, j);
        }, () =>
          patched(Replica.prototype, 'take', (take) => function (this: Replica, n: number) {
            const before = this.cache?.evicted ?? 0;
            take.call(this, n);
            const evicted = (this.cache?.evicted ?? 0) - before;
            if (forming) d.evictions += evicted;
            else d.foldEvictions += evicted;
          }, run)))));
}

const mooncake = loadTrace(new URL('../../traces/mooncake-conversation-10min.jsonl', import.meta.url).pathname);
const sessions = parseSyntheticSpec('sessions:rate=2,duration=60,seed=2,turns=4,think=5,system_prompts=3,system_tokens=700');
const windows: Trace[] = [windowTrace(mooncake, 0, 40), windowTrace(mooncake, 200, 40)];

/**
 * Pairs of requests sharing a prefix, arriving and admitted together: A (1,900 prompt tokens, one output token)
 * completes when its prompt is computed, its blocks becoming evictable, while B (6,000 tokens) is
 * still computing the same blocks: B's copies join the cache as revived entries, in the same batch
 * end as A's release (whole prompts) or at its next chunks' ends (chunked).
 */
const revivals = withPrefixes(
  makeTrace(Array.from({ length: 20 }, (_, k): [number, number, number] => [Math.floor(k / 2) * 5e6, k % 2 ? 6000 : 1900, k % 2 ? 3 : 1])),
  Array.from({ length: 20 }, (_, k) => Array.from({ length: k % 2 ? 12 : 4 }, (_, u) => (u < 4 ? 1000 * Math.floor(k / 2) + u : 1e6 + 100 * k + u))),
  512,
);

function spec(trace: Trace, scheduler: string, replicas: number, router: string, kvBlocks: number): Job['spec'] {
  const long = windows.includes(trace);
  const wholePrompts = defaultBatching(scheduler).wholePrompts;
  return {
    replicas,
    router: { name: router },
    scheduler: { name: scheduler },
    // Mooncake's prompts in blocks of 64 tokens, up to 32k tokens: a batch end's insertions are one
    // event, which the software adapter's loop limiter bounds (docs/gpu.md).
    profile: resolveProfile('llama3-8b-h100', {
      kvBlocks,
      blockSize: long ? 64 : 16,
      maxModelLen: long ? 32768 : 8192,
      maxBatchedTokens: wholePrompts ? (long ? 32768 : 8192) : 2048,
    }),
    seed: 3,
    prefixCache: 'on',
  };
}

// Whole prompts, chunks and sglang's batching every run, and one of the other schedulers chosen by
// the run's seed (each is a caching pipeline to compile cold on CI's software adapter);
// SCHEDLAB_TEST_CACHE_SCHEDULERS=all (or a comma-separated list) runs those instead.
const seed = Number(process.env.SCHEDLAB_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
const others = gpuPolicies().schedulers.filter((s) => !['vllm-fcfs', 'chunked-prefill', 'sglang'].includes(s));
const drawn = others.map((s, i) => ({ s, r: draw(seed, 3, i) })).sort((a, b) => a.r - b.r).slice(0, 1).map((e) => e.s);
const chosen = process.env.SCHEDLAB_TEST_CACHE_SCHEDULERS;
const cacheSchedulers = chosen === 'all' ? gpuPolicies().schedulers : chosen ? chosen.split(',') : ['vllm-fcfs', 'chunked-prefill', 'sglang', ...drawn];
console.log(`prefix cache test seed ${seed}: ${cacheSchedulers.join(', ')} (replay with SCHEDLAB_TEST_SEED=${seed})`);

describe('prefix caching on the GPU', () => {
  it('gives the CPU reference records on Mooncake windows and sessions, whole prompts, chunks, sglang and one other scheduler, 1 to 4 replicas', async () => {
    const jobs: Job[] = [];
    for (const scheduler of cacheSchedulers) {
      windows.forEach((trace, w) => jobs.push({ trace, spec: spec(trace, scheduler, 1 + w, w === 0 ? 'round-robin' : 'least-kv', 1500) }));
      jobs.push({ trace: sessions, spec: spec(sessions, scheduler, 2, 'least-outstanding', 300) });
      jobs.push({ trace: sessions, spec: spec(sessions, scheduler, 4, 'round-robin', 600) });
      jobs.push({ trace: revivals, spec: spec(revivals, scheduler, 1, 'round-robin', 2000) });
    }
    await expectTwinDecisions('prefix cache', jobs, (job) => job.spec.scheduler.name, none, cpuRecord);
  });
});
