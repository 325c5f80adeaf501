// The prefix routers' WGSL twins (src/policy/router/prefix-index.wgsl, prefix-affinity.wgsl,
// prefix-score.wgsl) against the CPU reference, on Mooncake windows (and one window without prefix
// hashes, where they see no units, and a sessions: workload), 1 to 4 replicas, with prefix caching off (vllm-fcfs) and on
// (chunked-prefill): two pipelines. The CPU run counts the routers' decisions: the imbalance
// fallback, prefix matches above and below the threshold (most room), remembered prefixes matched,
// LRU evictions from the router's index, and routings whose snapshot differed from the live views;
// a sweep that stopped making one would fail rather than pass vacuously.
import { afterAll, describe, it } from 'vitest';
import type { RawMetrics } from '../../src/metrics/record.js';
import { resolveProfile } from '../../src/model/profile.js';
import { prefixAffinity } from '../../src/policy/router/prefix-affinity.js';
import { PrefixIndex } from '../../src/policy/router/prefix-index.js';
import { outstandingRange } from '../../src/policy/router/types.js';
import { simulate } from '../../src/sim/cpu/simulator.js';
import { ViewSnapshot } from '../../src/sim/cpu/view-snapshot.js';
import { releaseDevice } from '../../src/sim/gpu/device.js';
import type { Job } from '../../src/sim/job.js';
import { resolveLane } from '../../src/sim/lane.js';
import { loadTrace } from '../../src/trace/readers.js';
import { parseSyntheticSpec } from '../../src/trace/synthetic.js';
import { scaleTrace, windowTrace, type Trace } from '../../src/trace/trace.js';
import { expectTwinDecisions, patched } from './twin-decisions.js';

afterAll(async () => {
  await releaseDevice();
});

interface Decisions {
  /** Routings whose chosen replica remembered a prefix of the prompt. */
  matched: number;
  /** Chain ids the router's index forgot (LRU eviction). */
  evictions: number;
  /** Routings that read a snapshot differing from the live views. */
  stale: number;
  /** prefix-affinity: the least-loaded replica, load being imbalanced. */
  imbalanced?: number;
  /** prefix-affinity: the best match, above the threshold. */
  aboveThreshold?: number;
  /** prefix-affinity: the most room, a remembered prefix at or below the threshold. */
  mostRoom?: number;
}
const none = (router: string): Decisions =>
  router === 'prefix-affinity' ? { matched: 0, evictions: 0, stale: 0, imbalanced: 0, aboveThreshold: 0, mostRoom: 0 } : { matched: 0, evictions: 0, stale: 0 };

/** The CPU record of a job, counting the routers' decisions into `d`. */
function cpuRecord(job: Job, d: Decisions): RawMetrics {
  const run = () => simulate(job.trace, resolveLane(job.spec)).raw;
  const affinity = (route: (...args: any[]) => number) => (view: any, request: any, seed: number, p: any, index: PrefixIndex) => {
    const { min, max } = outstandingRange(view);
    if (max - min > p.balanceAbsThreshold && max * 1000 > p.balanceRelThresholdPermille * min) d.imbalanced!++;
    else {
      let best = 0;
      for (let r = 0; r < view.replicas; r++) best = Math.max(best, index.match(r, request.prefixUnits));
      const matched = Math.min(best * request.prefixUnitTokens, request.promptTokens);
      if (matched * 1000 > p.cacheThresholdPermille * request.promptTokens) d.aboveThreshold!++;
      else if (best > 0) d.mostRoom!++;
    }
    return route(view, request, seed, p, index);
  };
  return patched(prefixAffinity, 'route', affinity, () =>
    patched(PrefixIndex.prototype, 'record', (record) => function (this: PrefixIndex, r: number, chain: ArrayLike<number>) {
      if (this.match(r, chain) > 0) d.matched++;
      const before = this.size(r);
      let fresh = 0;
      for (let u = 0; u < chain.length; u++) if (!(this as any).units[r].has(chain[u])) fresh++;
      record.call(this, r, chain);
      d.evictions += before + fresh - this.size(r);
    }, () =>
      patched(ViewSnapshot.prototype, 'at', (at) => function (this: ViewSnapshot, now: number, live: any) {
        const v = at.call(this, now, live);
        for (let r = 0; r < live.replicas; r++) {
          if (v.outstanding[r] !== live.outstanding[r] || v.usedBlocks[r] !== live.usedBlocks[r]) {
            d.stale++;
            break;
          }
        }
        return v;
      }, run)));
}

const mooncake = loadTrace(new URL('../../traces/mooncake-conversation-10min.jsonl', import.meta.url).pathname);
const azure = loadTrace(new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname);
// Twice the rate, so that queues build and loads differ between replicas.
const windows: Trace[] = [scaleTrace(windowTrace(mooncake, 0, 60), 2), scaleTrace(windowTrace(mooncake, 300, 60), 2)];
const noHashes = windowTrace(azure, 0, 30);
// Sessions sharing three system prompts: their units are touched by most requests, so which units an
// index forgets depends on touches refreshing recency (on these Mooncake windows it never does).
const sessions = parseSyntheticSpec('sessions:rate=2,duration=60,seed=2,turns=4,think=5,system_prompts=3,system_tokens=700');

// Each router's samples (what compare draws), then sets for the rare decisions: an index of a few
// units that evicts at every routing, thresholds that trigger at one request of imbalance, stale views.
const PARAMS: Record<string, Record<string, unknown>[]> = {
  'prefix-affinity': [
    {},
    { cacheThresholdPermille: 0, balanceAbsThreshold: 4 },
    { refreshMs: 100, capacityPermille: 50 },
    { capacityPermille: 20, balanceAbsThreshold: 1, balanceRelThresholdPermille: 1000, refreshMs: 1000 },
    { cacheThresholdPermille: 900, balanceAbsThreshold: 2, refreshMs: 20 },
  ],
  'prefix-score': [
    {},
    { prefixWeight: 1, queueWeight: 0, kvWeight: 0 },
    { refreshMs: 0 },
    { refreshMs: 1000, prefixWeight: 10 },
    { capacityPermille: 20, kvWeight: 1000, refreshMs: 250 },
  ],
};

function spec(router: string, params: Record<string, unknown>, caching: boolean, replicas: number): Job['spec'] {
  const scheduler = caching ? 'chunked-prefill' : 'vllm-fcfs';
  return {
    replicas,
    router: { name: router, params },
    scheduler: { name: scheduler },
    // Mooncake's prompts in blocks of 64 tokens, up to 32k tokens (as in prefix-cache.test.ts).
    profile: resolveProfile('llama3-8b-h100', { kvBlocks: 1500, blockSize: 64, maxModelLen: 32768, maxBatchedTokens: caching ? 2048 : 32768 }),
    seed: 3,
    ...(caching ? { prefixCache: 'on' as const } : {}),
  };
}

describe('prefix routers on the GPU', () => {
  it('give the CPU reference records: both routers, their samples and rare decisions, caching off and on, 1 to 4 replicas', async () => {
    const jobs: Job[] = [];
    let k = 0;
    for (const [router, sets] of Object.entries(PARAMS)) {
      for (const params of sets) {
        for (const caching of [false, true]) {
          jobs.push({ trace: windows[k % 2], spec: spec(router, params, caching, 1 + (k % 4)) });
          k++;
        }
      }
      // A trace without prefix hashes: the routers see no units.
      jobs.push({ trace: noHashes, spec: spec(router, sets[3], false, 3) });
      jobs.push({ trace: sessions, spec: spec(router, { capacityPermille: 50 }, false, 2) });
      jobs.push({ trace: sessions, spec: spec(router, { capacityPermille: 200, refreshMs: 100 }, true, 3) });
    }
    const t0 = Date.now();
    await expectTwinDecisions('prefix routers', jobs, (job) => job.spec.router.name, none, cpuRecord);
    console.log(`${jobs.length} lanes in ${Date.now() - t0} ms`);
  });
});
