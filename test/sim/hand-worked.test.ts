// Timelines worked out by hand on the tiny-test profile: 1 ms per iteration + 0.1 ms per prefill token.
import { describe, expect, it } from 'vitest';
import { Status } from '../../src/sim/cpu/simulator.js';
import { makeTrace, runBoth, tinySpec } from '../helpers.js';

describe('vllm-fcfs', () => {
  it('prefills, then decodes one token per iteration', () => {
    // t=0 prefill 4 tokens: 1000 + 400 = 1400 us, first token. Two decodes of 1000 us: done at 3400.
    const { raw, perRequest } = runBoth(makeTrace([[0, 4, 3]]), tinySpec('vllm-fcfs'));
    expect(raw.completed).toBe(1);
    expect(raw.hist.ttft.sum).toBe(1400);
    expect(raw.hist.e2e.sum).toBe(3400);
    expect(raw.hist.tpot.sum).toBe(1000);
    expect([raw.hist.itl.count, raw.hist.itl.sum]).toEqual([2, 2000]);
    expect(raw.iterations).toBe(3);
    expect(raw.busyUs).toBe(3400);
    // KV blocks at each iteration start: prefill holds 1 block; the decode at context 4 opens block 2.
    expect([raw.hist.kv.count, raw.hist.kv.sum]).toEqual([3, 5]);
    expect(perRequest!.finishUs[0]).toBe(3400);
  });

  it('preempts the newest running request when a decode needs a block and none is free', () => {
    // 3 blocks of 4 tokens. A and B (4-token prompts, 6 outputs) prefill together: 1000 + 800 = 1800.
    // At 1800 both need a second block; one is free: A takes it, B (newest) is preempted.
    // A decodes alone (B's 5-token recompute needs 2 blocks, 1 is free) and finishes at 6800;
    // B re-prefills 5 tokens (1500 us) to 8300, then 4 decodes to 12300.
    const { raw, perRequest } = runBoth(makeTrace([[0, 4, 6], [0, 4, 6]]), tinySpec('vllm-fcfs', { kvBlocks: 3 }));
    expect(raw.preemptions).toBe(1);
    expect(raw.preemptedRequests).toBe(1);
    expect(Array.from(perRequest!.preemptions)).toEqual([0, 1]);
    expect(Array.from(perRequest!.finishUs)).toEqual([6800, 12300]);
    expect(raw.hist.ttft.sum).toBe(3600);
    expect(raw.hist.tpot.sum).toBe(1000 + 2100);
    expect([raw.hist.itl.count, raw.hist.itl.sum]).toEqual([10, 5 * 1000 + 6500 + 4 * 1000]);
    expect(raw.hist.itl.max).toBe(6500);
    expect(raw.iterations).toBe(11);
    expect(raw.makespanUs).toBe(12300);
    expect(raw.busyUs).toBe(12300);
  });

  it('keeps the watermark free when admitting', () => {
    // kvBlocks 10, watermark 200 permille = 2 blocks; each 8-token prompt needs 2 blocks. A-D leave
    // 10 - 8 = 2 free, exactly the watermark; E would leave 0, so it waits though 8 sequences are allowed.
    const trace = makeTrace([[0, 8, 1], [0, 8, 1], [0, 8, 1], [0, 8, 1], [0, 8, 1]]);
    const { perRequest } = runBoth(trace, tinySpec('vllm-fcfs', { kvBlocks: 10, maxBatchedTokens: 64, maxNumSeqs: 8 }, { schedulerParams: { watermarkPermille: 200 } }));
    // First iteration: four prompts (32 tokens) = 1000 + 3200 us. E waits for the next one.
    expect(Array.from(perRequest!.finishUs)).toEqual([4200, 4200, 4200, 4200, 4200 + 1800]);
  });

  it('rejects requests that can never run, and counts them', () => {
    // max_model_len 32: 30 + 3 > 32. KV: 8 blocks of 4 = 32 tokens; 31 + 1 - 1 = 31 fits, so it runs.
    const trace = makeTrace([[0, 30, 3], [0, 31, 1], [0, 2, 2]]);
    const { raw, perRequest } = runBoth(trace, tinySpec('vllm-fcfs'));
    expect(raw.rejectedMaxModelLen).toBe(1);
    expect(raw.rejectedKvCapacity).toBe(0);
    expect(raw.completed).toBe(2);
    expect(perRequest!.status[0]).toBe(Status.RejectedMaxModelLen);
    const small = runBoth(makeTrace([[0, 20, 2]]), tinySpec('vllm-fcfs', { kvBlocks: 5 }));
    expect(small.raw.rejectedKvCapacity).toBe(1);
    expect(small.raw.completed).toBe(0);
  });
});

describe('chunked-prefill', () => {
  it('splits a long prompt across iterations and lets a short one share the budget', () => {
    // Budget 4 tokens. A (10-token prompt) takes 4, 4, then 2 tokens; B (2 tokens, 1 output) fills the
    // last 2 tokens of A's third iteration. Iterations: 1400, 1400, 1400 (4 prefill tokens), then A decodes.
    const trace = makeTrace([[0, 10, 2], [0, 2, 1]]);
    const { raw, perRequest } = runBoth(trace, tinySpec('chunked-prefill', { maxBatchedTokens: 4 }));
    expect(Array.from(perRequest!.firstTokenUs)).toEqual([4200, 4200]);
    expect(Array.from(perRequest!.finishUs)).toEqual([5200, 4200]);
    expect(raw.hist.queue.sum).toBe(2800);
    expect(raw.hist.tpot.sum).toBe(1000);
  });

  it('runs decodes before new prompts', () => {
    // A prefills alone (3 tokens, 1300 us). B arrives at 100 and is chunked after A's decode: budget 4 = 1 decode + 3 prompt tokens.
    const trace = makeTrace([[0, 3, 3], [100, 6, 1]]);
    const { perRequest } = runBoth(trace, tinySpec('chunked-prefill', { maxBatchedTokens: 4 }));
    // 1300: A first token. Iteration 2 (1300..2600): A decode + B 3 tokens. Iteration 3 (2600..3900): A decode + B 3 tokens -> B done.
    expect(Array.from(perRequest!.finishUs)).toEqual([3900, 3900]);
  });
});

describe('sjf', () => {
  it('serves the shortest waiting prompt first', () => {
    // A occupies the replica (max 1 sequence). B (long) and C (short) wait; C goes first.
    const trace = makeTrace([[0, 2, 2], [10, 8, 1], [20, 1, 1]]);
    const { perRequest } = runBoth(trace, tinySpec('sjf', { maxNumSeqs: 1 }));
    // A: 1200 prefill + 1000 decode = 2200. C: 1100 -> 3300. B: 1800 -> 5100.
    expect(Array.from(perRequest!.finishUs)).toEqual([2200, 5100, 3300]);
  });
});

describe('routers', () => {
  const trace = makeTrace([[0, 2, 2], [0, 2, 2], [0, 2, 2], [5000, 2, 2]]);
  const replicasOf = (router: string, replicas = 2, seed = 0) =>
    Array.from(runBoth(trace, { ...tinySpec('vllm-fcfs'), replicas, router: { name: router }, seed }).perRequest!.replica);

  it('round-robin cycles', () => expect(replicasOf('round-robin', 3)).toEqual([0, 1, 2, 0]));
  it('least-outstanding joins the shortest queue, ties rotate from request index', () => {
    // r0 starts scan at 0 -> 0; r1 starts at 1 -> 1; r2 at 0: both hold 1 -> 0; r3 at 5000 after all finished: start 3 mod 2 = 1.
    expect(replicasOf('least-outstanding')).toEqual([0, 1, 0, 1]);
  });
  it('least-kv prefers the replica with fewer blocks in use', () => expect(replicasOf('least-kv')).toEqual([0, 1, 0, 1]));
  it('random and power-of-two are seeded and deterministic', () => {
    for (const r of ['random', 'power-of-two']) {
      expect(replicasOf(r, 4, 7)).toEqual(replicasOf(r, 4, 7));
      const seeds = new Set(Array.from({ length: 8 }, (_, s) => replicasOf(r, 4, s).join()));
      expect(seeds.size).toBeGreaterThan(1);
    }
  });
});
