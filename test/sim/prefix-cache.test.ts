// Prefix caching, the lpm order and the cache-aware routers, on timelines worked out by hand on the
// tiny-test profile: 1 ms per iteration + 0.1 ms per prefill token, 8 blocks of 4 tokens, a
// 32-token budget, 4 sequences. Prefix units are 4 tokens, one KV block each.
import { describe, expect, it } from 'vitest';
import { makeTrace, runBoth, tinySpec, withPrefixes } from '../helpers.js';

const cached = (r: ReturnType<typeof runBoth>) => Array.from(r.perRequest!.cachedTokens!);
const firstTokens = (r: ReturnType<typeof runBoth>) => Array.from(r.perRequest!.firstTokenUs);
const replicas = (r: ReturnType<typeof runBoth>) => Array.from(r.perRequest!.replica);

describe('prefix cache (vllm-fcfs)', () => {
  it('lets a second request with the same prefix prefill only its new tokens', () => {
    // A (t=0, 12 tokens, units [1,2,3]) prefills 12 tokens: 2200 µs; its 3 full prompt blocks join the
    // cache at 2200. It decodes once (done 3200) and releases them: cached, no longer held.
    // B (t=5000, 16 tokens, units [1,2,3,4]) finds A's 3 blocks (12 tokens; at most floor(15 / 4)
    // blocks, one token is always computed) and prefills 4 tokens: 1400 µs, first token at 6400.
    const trace = withPrefixes(makeTrace([[0, 12, 2], [5000, 16, 2]]), [[1, 2, 3], [1, 2, 3, 4]], 4);
    const on = runBoth(trace, tinySpec('vllm-fcfs', {}, { prefixCache: 'on' }));
    expect(firstTokens(on)).toEqual([2200, 6400]);
    expect(cached(on)).toEqual([0, 12]);
    expect([on.raw.prefixLookups, on.raw.prefixHits, on.raw.prefixLookupTokens, on.raw.prefixHitTokens]).toEqual([2, 1, 28, 12]);
    expect(on.raw.prefixEvictedBlocks).toBe(0);
    // Without caching B prefills all 16 tokens: 2600 µs.
    const off = runBoth(trace, tinySpec('vllm-fcfs'));
    expect(firstTokens(off)).toEqual([2200, 7600]);
    expect(off.raw.prefixLookups).toBe(0);
  });

  it('evicts the least recently released blocks first, a prompt tail before its head', () => {
    // A (t=0, 8 tokens [1,2]) is done at 1800; its blocks are released deepest first: A1, A0.
    // B (t=2000, [3,4]) is done at 3800: the evictable list is A1, A0, B1, B0.
    // C (t=4000, 24 tokens, 6 units) needs 6 blocks; 4 are empty, so A1 and A0 are evicted. Done at
    // 7400, it leaves B1, B0, C5 .. C0: all 8 blocks cached, none empty.
    // At 8000 E ([3,4,12], 9 tokens) comes first: it takes B0, B1 back and one block more (C5
    // evicted); D ([1,2,11]) finds nothing of A and takes 3 blocks (C4, C3, C2 evicted).
    // F (t=20000, [5,6,13]) still finds C0 and C1: 8 tokens.
    const trace = withPrefixes(
      makeTrace([[0, 8, 1], [2000, 8, 1], [4000, 24, 1], [8000, 9, 1], [8000, 9, 1], [20000, 9, 1]]),
      [[1, 2], [3, 4], [5, 6, 7, 8, 9, 10], [3, 4, 12], [1, 2, 11], [5, 6, 13]],
      4,
    );
    const r = runBoth(trace, tinySpec('vllm-fcfs', {}, { prefixCache: 'on' }));
    expect(cached(r)).toEqual([0, 0, 0, 8, 0, 8]);
    expect(r.raw.prefixEvictedBlocks).toBe(6);
    // E prefills 1 token and D 9 together: 2000 µs.
    expect(firstTokens(r)).toEqual([1800, 3800, 7400, 10000, 10000, 21100]);
  });

  it('never evicts a cached block that a running request holds', () => {
    // A (t=0, [1,2], 6 outputs) and X (t=0, [3,4], 1 output) prefill together: 2600 µs; both
    // prompts join the cache. X is done: X1, X0 become evictable; A holds A0, A1 (older) and decodes.
    // Y (t=3000, 20 tokens) starts at 3600 and needs 5 blocks: 3 are empty (A holds 3), so X1 and
    // X0 are evicted, not A's. Y prefills to 6600 (prefill-first: A waits), and leaves Y4 .. Y0.
    // A's last decode (9600, context 12) needs a 4th block: Y4 is evicted. A is done at 10600.
    // Z (t=11000, [1,2,10]) finds A's blocks (8 tokens); W ([3,4,11]) finds nothing of X. They
    // prefill 1 + 9 tokens together and are done at 13000.
    const trace = withPrefixes(
      makeTrace([[0, 8, 6], [0, 8, 1], [3000, 20, 1], [11000, 9, 1], [11000, 9, 1]]),
      [[1, 2], [3, 4], [5, 6, 7, 8, 9], [1, 2, 10], [3, 4, 11]],
      4,
    );
    const r = runBoth(trace, tinySpec('vllm-fcfs', {}, { prefixCache: 'on' }));
    expect(Array.from(r.perRequest!.finishUs)).toEqual([10600, 2600, 6600, 13000, 13000]);
    expect(cached(r)).toEqual([0, 0, 0, 8, 0]);
    // 2 for Y, 1 for A's decode, 2 for W (Z takes A's 2 back and 1 empty block).
    expect(r.raw.prefixEvictedBlocks).toBe(5);
  });

  it('shares a block computed by two requests at once instead of keeping it twice', () => {
    // P and Q (t=0, the same 8-token prompt [1,2], 3 outputs) prefill together: neither finds the
    // other's blocks, both compute them. At 2600 P's copies join the cache; Q's equal blocks are
    // shared with P and Q's copies freed: 2 blocks in use for the prompt, not 4, plus one decode block each.
    const trace = withPrefixes(makeTrace([[0, 8, 3], [0, 8, 3]]), [[1, 2], [1, 2]], 4);
    const r = runBoth(trace, tinySpec('vllm-fcfs', {}, { prefixCache: 'on' }));
    // KV samples at iteration starts: 4 (two prompts), then 2 + 2 decode blocks (two iterations).
    expect([r.raw.hist.kv.count, r.raw.hist.kv.sum, r.raw.hist.kv.max]).toEqual([3, 12, 4]);
    const off = runBoth(makeTrace([[0, 8, 3], [0, 8, 3]]), tinySpec('vllm-fcfs'));
    expect([off.raw.hist.kv.count, off.raw.hist.kv.sum]).toEqual([3, 16]);
  });
});

describe('lpm (sglang)', () => {
  // One sequence at a time. H0 (t=0, 16 tokens [1,2,3,4]) runs first: prefill 2600, decode, done
  // 3600, its 4 blocks cached. X (t=10, cold, [9,10,11,12]) waits ahead of H1..H3 (t=20, 30, 40,
  // 17 tokens [1,2,3,4,h]), which find 16 cached tokens and prefill 1 (1100 µs + a decode).
  const trace = withPrefixes(
    makeTrace([[0, 16, 2], [10, 16, 2], [20, 17, 2], [30, 17, 2], [40, 17, 2]]),
    [[1, 2, 3, 4], [9, 10, 11, 12], [1, 2, 3, 4, 5], [1, 2, 3, 4, 6], [1, 2, 3, 4, 7]],
    4,
  );
  const spec = (schedulePolicy: string, lpmMaxWaiting = 128) =>
    tinySpec('sglang', { maxNumSeqs: 1 }, { prefixCache: 'on', schedulerParams: { watermarkPermille: 0, schedulePolicy, lpmMaxWaiting } });

  it('admits the longest cached prefix first and starves the cold request', () => {
    // At 3600 lpm orders H1, H2, H3 (16 cached tokens) before X (0): each hot request takes 2100 µs,
    // so X starts at 3600 + 3 x 2100 = 9900 (queueing delay 9890), passing over it three times.
    const lpm = runBoth(trace, spec('lpm'));
    expect(firstTokens(lpm)).toEqual([2600, 12500, 4700, 6800, 8900]);
    expect(lpm.raw.admittedOutOfOrder).toBe(3);
    expect(lpm.raw.hist.queue.max).toBe(9890);
    // fcfs serves X at 3600 (prefill 16 tokens: 2600 µs, done 7200), then H1..H3. X's decode needs
    // a 5th block while H0's 4 cached blocks fill the rest: the deepest, [1,2,3,4], is evicted, so
    // H1 finds 12 tokens (prefill 5: 1500 µs) and caches that block again for H2 and H3.
    const fcfs = runBoth(trace, spec('fcfs'));
    expect(firstTokens(fcfs)).toEqual([2600, 6200, 8700, 10800, 12900]);
    expect(fcfs.raw.admittedOutOfOrder).toBe(0);
    // SGLang turns lpm off while more than lpmMaxWaiting requests wait: FCFS here (4 wait at 3600).
    expect(firstTokens(runBoth(trace, spec('lpm', 3)))).toEqual(firstTokens(fcfs));
  });
});

describe('prefix-affinity', () => {
  it('sends a follow-up turn to the replica holding its conversation until the load imbalance sends it elsewhere', () => {
    // Two replicas; imbalanced when the outstanding counts differ by more than 1 and max > 1.0 x min.
    // C1 (t=0, [1,2]) goes to replica 0 (no match; equal trees: the scan from 0); D1 ([7,8]) to
    // replica 1 (the smaller tree). C2 (t=100, [1,2,3]) and C3 (t=200, [1,2,3,4]) match replica 0
    // (2 and 3 units, above 30% of their prompts; loads 1/1, then 2/1). C4 (t=300) would match
    // replica 0 too, but loads 3/1 are imbalanced: it goes to the least loaded replica, 1.
    const trace = withPrefixes(
      makeTrace([[0, 8, 10], [0, 8, 10], [100, 12, 10], [200, 16, 10], [300, 20, 10]]),
      [[1, 2], [7, 8], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4, 5]],
      4,
    );
    const spec = (prefixCache: 'on' | 'off') =>
      tinySpec('vllm-fcfs', {}, { replicas: 2, prefixCache, router: { name: 'prefix-affinity', params: { balanceAbsThreshold: 1, balanceRelThresholdPermille: 1000 } } });
    const r = runBoth(trace, spec('on'));
    expect(replicas(r)).toEqual([0, 1, 0, 0, 1]);
    // C2 and C3 start on replica 0 at 1800 after C1's prefill has cached [1,2]: 8 tokens each.
    expect(cached(r)).toEqual([0, 0, 8, 8, 0]);
    // The router decides from its own memory, not from the replicas' caches: the same routes without caching.
    expect(replicas(runBoth(trace, spec('off')))).toEqual([0, 1, 0, 0, 1]);
  });
});

describe('stale replica views', () => {
  it('routes by a snapshot refreshed at the first routing instant of each period', () => {
    // prefix-score as a queue-only router. A (t=0, long) goes to replica 0, B (t=0, 1 output) to
    // replica 1, done at 1400. C, D, E arrive at 6000, 6001, 6002.
    // Live views: C sees 1/0 -> replica 1; D sees 1/1 -> the scan from 3 mod 2 -> replica 1; E sees
    // 1/2 -> replica 0. With a 5 ms refresh the snapshot is taken at 6000 before C is routed (1/0)
    // and kept until 10000: C, D and E all see replica 1 empty and all go there.
    const trace = withPrefixes(makeTrace([[0, 4, 20], [0, 4, 1], [6000, 4, 20], [6001, 4, 20], [6002, 4, 20]]), [[1], [2], [3], [4], [5]], 4);
    const spec = (refreshMs: number) =>
      tinySpec('vllm-fcfs', {}, { replicas: 2, router: { name: 'prefix-score', params: { prefixWeight: 0, kvWeight: 0, queueWeight: 1, refreshMs } } });
    expect(replicas(runBoth(trace, spec(0)))).toEqual([0, 1, 1, 1, 0]);
    expect(replicas(runBoth(trace, spec(5)))).toEqual([0, 1, 1, 1, 1]);
  });
});
