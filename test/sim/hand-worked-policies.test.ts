// Timelines of the surveyed and new policies worked out by hand on the tiny-test profile: 1 ms per
// iteration + 0.1 ms per prefill token, blocks of 4 tokens, 32-token budget, 4 sequences at most.
import { describe, expect, it } from 'vitest';
import { makeTrace, runBoth, tinySpec } from '../helpers.js';

const finishes = (r: ReturnType<typeof runBoth>) => Array.from(r.perRequest!.finishUs);
const preemptions = (r: ReturnType<typeof runBoth>) => Array.from(r.perRequest!.preemptions);

describe('larry', () => {
  // A (t=0, 2 prompt tokens, 10 outputs) holds the only sequence slot until 10200 µs: prefill 1200 µs,
  // then 9 decodes of 1000 µs. B (t=10 µs, 8 + 1) and C (t=8000 µs, 1 + 1) wait for it.
  const trace = makeTrace([[0, 2, 10], [10, 8, 1], [8000, 1, 1]]);
  const spec = (agingTokensPerS: number) => tinySpec('larry', { maxNumSeqs: 1 }, { schedulerParams: { watermarkPermille: 0, agingTokensPerS, batching: 'prefill-first' } });

  it('lets aging move a long job ahead of a shorter one that arrived later', () => {
    // key = (prompt + predicted) x 10^6 + aging x arrival µs. With 1000 tokens/s: B = 9e6 + 10^4,
    // C = 2e6 + 8e6 = 10^7, so B starts at 10200 (prefill 8 tokens: 1800 µs, done 12000) and C after it (1100 µs).
    expect(finishes(runBoth(trace, spec(1000)))).toEqual([10200, 12000, 13100]);
    // Without aging the shorter C (2e6) goes first: done 11300, then B (1800 µs) at 13100.
    expect(finishes(runBoth(trace, spec(0)))).toEqual([10200, 13100, 11300]);
  });

  it('refuses a request whose reserve target does not fit in the unreserved blocks', () => {
    // 8 blocks of 4 tokens, reservePermille 1000: a request reserves blocks for prompt + predicted output.
    // B (8 + 2, key 10e6) goes before A (4 + 20, key 24e6): B reserves ceil(9 / 4) = 3 blocks, leaving 5;
    // A needs ceil(24 / 4) = 6 > 5, so it is refused at 0 and again at 1800 (B holds 2 blocks, 1 more
    // reserved: 8 - 2 - 1 = 5). B: prefill 1800, one decode, done 2800; then A alone: prefill 1400
    // (first token 4200), 19 decodes, done 23200.
    const t = makeTrace([[0, 4, 20], [0, 8, 2]]);
    const larry = runBoth(t, tinySpec('larry', {}, { schedulerParams: { watermarkPermille: 0, agingTokensPerS: 0, reservePermille: 1000, batching: 'prefill-first' } }));
    expect(finishes(larry)).toEqual([23200, 2800]);
    expect(Array.from(larry.perRequest!.firstTokenUs)).toEqual([4200, 1800]);
    // Without reservation both prefill together at 0 (12 tokens: 2200 µs): A is done at 2200 + 19 x 1000.
    const none = runBoth(t, tinySpec('larry', {}, { schedulerParams: { watermarkPermille: 0, agingTokensPerS: 0, reservePermille: 0, batching: 'prefill-first' } }));
    expect(finishes(none)).toEqual([21200, 3200]);
  });

  it('preempts the running request with the fewest computed tokens, not the newest', () => {
    // 4 blocks. X (t=0, 4 + 4, key 8e6) and Y (t=0, 8 + 8, key 16e6) prefill together: 2200 µs.
    // At 2200 X (4 tokens computed) takes the last block for its decode; Y (8 computed) then needs one:
    // the victim is X, already scheduled (its step is withdrawn), not Y, the last and newest.
    // Y decodes alone to 9200 (its 4th block fits at 6200); X re-prefills 5 tokens (1500 µs) and
    // decodes twice: done 12700.
    const t = makeTrace([[0, 4, 4], [0, 8, 8]]);
    const larry = runBoth(t, tinySpec('larry', { kvBlocks: 4 }, { schedulerParams: { watermarkPermille: 0, agingTokensPerS: 0, reservePermille: 0, batching: 'prefill-first' } }));
    expect(preemptions(larry)).toEqual([1, 0]);
    expect(finishes(larry)).toEqual([12700, 9200]);
    // vLLM's rule on the same timeline preempts Y, the newest.
    expect(preemptions(runBoth(t, tinySpec('vllm-fcfs', { kvBlocks: 4 })))).toEqual([0, 1]);
  });
});

describe('vllm-priority', () => {
  // 3 blocks. P (t=0, 4 + 8, priority 8) prefills alone (1400 µs). Q (t=100, 4 + 3, priority 3) joins at
  // 1400 with its prompt while P decodes into its 2nd block (1400 µs): no block is left.
  const trace = makeTrace([[0, 4, 8], [100, 4, 3]]);

  it('evicts the largest (priority, arrival), even a request already scheduled in the step', () => {
    // At 2800 the running list is in admission order [P, Q]. P decodes without a new block; Q needs
    // one: the victim is P (priority 8), whose step is withdrawn. Q decodes at 2800 and 3800 (done
    // 4800). P re-prefills 6 tokens from 4800 (1600 µs) and decodes 5 more tokens: done 11400.
    const r = runBoth(trace, tinySpec('vllm-priority', { kvBlocks: 3 }));
    expect(preemptions(r)).toEqual([1, 0]);
    expect(finishes(r)).toEqual([11400, 4800]);
    // vLLM's FCFS rule preempts Q, the newest (P is done at 8800, Q re-prefills 5 tokens and decodes once).
    const fcfs = runBoth(trace, tinySpec('chunked-prefill', { kvBlocks: 3 }));
    expect(preemptions(fcfs)).toEqual([0, 1]);
    expect(finishes(fcfs)).toEqual([8800, 11300]);
  });
});

describe('trtllm-guaranteed-no-evict', () => {
  it('starts a request only when its prompt + max_tokens fit next to what started requests still need', () => {
    // The trace above: at 1400 P holds 2 blocks and still needs ceil(11 / 4) - 2 = 1 of the 3; 1 is
    // free after its decode, so 0 are unreserved and Q (ceil(6 / 4) = 2 blocks) waits until P is
    // done at 8400 (1400 + 7 x 1000). Q: prefill 1400 µs, 2 decodes, done 11800. Nothing is preempted.
    const trace = makeTrace([[0, 4, 8], [100, 4, 3]]);
    const r = runBoth(trace, tinySpec('trtllm-guaranteed-no-evict', { kvBlocks: 3 }));
    expect(preemptions(r)).toEqual([0, 0]);
    expect(finishes(r)).toEqual([8400, 11800]);
  });
});

describe('trtllm-max-utilization', () => {
  it('pauses the last started request at or after the one that does not fit', () => {
    // At 2800 the arrival pass gives P its decode; Q needs a block and none is free: the last started
    // request at or after Q is Q itself, which is paused. At 3800 Q (5 tokens to recompute, 2 blocks)
    // does not fit and no started request follows it, so the pass ends; P decodes to 8800; Q re-prefills
    // at 8800 (1500 µs) and decodes once: done 11300. On this timeline TensorRT-LLM's pass takes
    // vLLM's FCFS decisions (docs/policies.md says why).
    const trace = makeTrace([[0, 4, 8], [100, 4, 3]]);
    const r = runBoth(trace, tinySpec('trtllm-max-utilization', { kvBlocks: 3 }));
    expect(preemptions(r)).toEqual([0, 1]);
    expect(finishes(r)).toEqual([8800, 11300]);
  });
});

describe('sglang', () => {
  it('refuses a prompt whose tokens plus max_tokens exceed the free tokens minus the running requests\' reservation', () => {
    // 8 blocks of 4 tokens, new_token_ratio 0.5. R1 (8 + 12) starts alone: 1800 µs. At 1800 R1 decodes
    // and R2 (t=100, 8 + 12) needs 8 + 12 = 20 tokens: 6 free blocks = 24 tokens minus floor(0.5 x 11)
    // = 5 reserved for R1 leaves 19 <= 20, refused; later R1 holds more and reserves a little less, and R2
    // stays out until R1 is done at 12800 (11 decodes). R2: prefill 1800 µs, 11 decodes: done 25600.
    const trace = makeTrace([[0, 8, 12], [100, 8, 12]]);
    const r = runBoth(trace, tinySpec('sglang', {}, { schedulerParams: { watermarkPermille: 0, initNewTokenRatio: 0.5 } }));
    expect(finishes(r)).toEqual([12800, 25600]);
    // chunked-prefill admits R2 at 1800 next to R1's decode.
    expect(runBoth(trace, tinySpec('chunked-prefill')).perRequest!.firstTokenUs[1]).toBe(1800 + 1800);
  });

  it('lowers its reservation as the new-token ratio decays after decode iterations', () => {
    // Ratio 1.0 at first. R2 (t=100, 8 + 6) needs 14 tokens; at 1800 the 6 free blocks (24 tokens) minus
    // R1's 11 reserved leave 13: refused. The decode iteration that follows decays the ratio: with one
    // decay step to a floor of 0 it reaches 0, so at 2800 nothing is reserved and R2 (14 < 20) starts:
    // first token at 2800 + 1800. With a decay too slow to matter it waits for R1 to finish (12800).
    const trace = makeTrace([[0, 8, 12], [100, 8, 6]]);
    const run = (newTokenRatioDecaySteps: number) =>
      runBoth(trace, tinySpec('sglang', {}, { schedulerParams: { watermarkPermille: 0, initNewTokenRatio: 1, minNewTokenRatioFactor: 0, newTokenRatioDecaySteps } })).perRequest!.firstTokenUs[1];
    expect(run(1)).toBe(4600);
    expect(run(1_000_000)).toBe(14600);
  });

  it('runs prefills before decodes, and on a decode shortage retracts the request with the fewest generated tokens', () => {
    // Ratio 0 (no reservation for running requests), retraction frees 4 tokens per remaining request.
    // R1, R2 (t=0, 4 + 10) prefill together (1800 µs), decode once (2800). R3 (t=2500, 4 + 10) fits:
    // a prefill-only iteration 2800..4200 (R1 and R2 wait). Decodes follow; at 7200 R1 and R2 take the
    // last 2 blocks; at 8200 R3 (5 generated, R1 and R2 have 6) needs one: R3 is retracted (its 2
    // blocks free 8 tokens >= 4 x 2). R1, R2 are done at 12200; R3 re-prefills 9 tokens (1900 µs) and
    // decodes 4 more: done 18100.
    const trace = makeTrace([[0, 4, 10], [0, 4, 10], [2500, 4, 10]]);
    const r = runBoth(trace, tinySpec('sglang', {}, { schedulerParams: { watermarkPermille: 0, initNewTokenRatio: 0, retractDecodeSteps: 4 } }));
    expect(preemptions(r)).toEqual([0, 0, 1]);
    expect(finishes(r)).toEqual([12200, 12200, 18100]);
    expect(Array.from(r.perRequest!.firstTokenUs)).toEqual([1800, 1800, 4200]);
  });
});

describe('srpt', () => {
  // One sequence slot. A (t=0, 2 + 10) runs; B (t=1500, 2 + 2) arrives with 2 predicted tokens left.
  const trace = makeTrace([[0, 2, 10], [1500, 2, 2]]);
  it('displaces a running request with more predicted remaining output at the next iteration boundary', () => {
    // At 2200 A has 8 tokens left, B 2 < 8: A is preempted, B prefills (1200) and decodes: done 4400.
    // A re-prefills 4 tokens (1400 µs, first new token at 5800) and decodes 7 more: done 12800.
    const r = runBoth(trace, tinySpec('srpt', { maxNumSeqs: 1 }, { schedulerParams: { watermarkPermille: 0, preemptMarginTokens: 0 } }));
    expect(preemptions(r)).toEqual([1, 0]);
    expect(finishes(r)).toEqual([12800, 4400]);
  });
  it('keeps the running request when the difference is within the margin', () => {
    // Margin 8: 8 > 2 + 8 fails. A is done at 10200, B at 10200 + 1200 + 1000.
    const r = runBoth(trace, tinySpec('srpt', { maxNumSeqs: 1 }, { schedulerParams: { watermarkPermille: 0, preemptMarginTokens: 8 } }));
    expect(finishes(r)).toEqual([10200, 12400]);
  });
});

describe('mlfq', () => {
  it('skip-joins by prompt length, demotes after a quantum, and lets a higher level displace a lower one', () => {
    // Quanta 2, 4, 8 output tokens; skip-join level: the first whose quantum >= ceil(prompt / 4).
    // A (t=0, 2 + 6): level 0. B (t=0, 12 + 1): ceil(12 / 4) = 3 > 2, level 1. C (t=2500, 2 + 1): level 0.
    // One slot: A prefills (1200), decodes to 2200 where its 2nd token ends its level-0 quantum: level 1,
    // behind nobody (B is level 1 but arrived later). At 3200 C (level 0) cannot start and A is level 1:
    // A is preempted; C prefills and is done at 4400. A (level 1, before B by arrival) re-prefills
    // 5 tokens (1500 µs) and decodes twice: done 7900. B: 2200 µs of prefill, done 10100.
    const trace = makeTrace([[0, 2, 6], [0, 12, 1], [2500, 2, 1]]);
    const params = { watermarkPermille: 0, levels: 3, baseQuantum: 2, quantumGrowth: 2, promptTokensPerQuantumToken: 4 };
    const r = runBoth(trace, tinySpec('mlfq', { maxNumSeqs: 1 }, { schedulerParams: params }));
    expect(preemptions(r)).toEqual([1, 0, 0]);
    expect(finishes(r)).toEqual([7900, 10100, 4400]);
  });
});

describe('token-aware routers', () => {
  // Four requests at one instant on 2 replicas: R0 is long (20 + 10), R1..R3 short (2 + 2).
  const trace = makeTrace([[0, 20, 10], [0, 2, 2], [0, 2, 2], [0, 2, 2]]);
  const replicasOf = (router: string) =>
    Array.from(runBoth(trace, { ...tinySpec('vllm-fcfs'), replicas: 2, router: { name: router } }).perRequest!.replica);

  it('sal picks the lighter replica although it holds more requests', () => {
    // Load = 1 x queued prompt tokens + 4 x predicted output tokens + 64 x blocks committed beyond 7 of 8.
    // R0: both empty, tie, scan from 0: replica 0 (load 20 + 40 = 60). R1: replica 1 (0). R2: replica 1
    // (10 < 60). R3: replica 1 holds 2 requests and load 20, replica 0 one request and load 60: replica 1.
    expect(replicasOf('sal')).toEqual([0, 1, 1, 1]);
  });
  it('token-jsq counts queued prompt plus predicted output tokens', () => {
    // Loads after R0: 30 | 0; after R1: 30 | 4; after R2: 30 | 8: R1..R3 all go to replica 1.
    expect(replicasOf('token-jsq')).toEqual([0, 1, 1, 1]);
  });
  it('kv-jsq counts blocks in use plus blocks of queued prompts', () => {
    // Committed blocks: R0 makes replica 0 commit ceil(20 / 4) = 5; replica 1 commits 1 after R1, 1 after R2
    // (4 queued tokens), 2 after R3: R1..R3 go to replica 1; least-outstanding would send R2 to replica 0.
    expect(replicasOf('kv-jsq')).toEqual([0, 1, 1, 1]);
    expect(replicasOf('least-outstanding')).toEqual([0, 1, 0, 1]);
  });
});
