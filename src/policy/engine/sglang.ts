import { z } from 'zod';
import type { BatchContext } from './batching/types.js';
import { victimPosition } from './batching/running.js';
import { maxTokensOf, maxTokensParam } from './common-params.js';
import { longestPrefixFirst } from './longest-prefix.js';
import type { AdmissionRule, EngineScheduler, LaneConstants, RequestTable, SchedulerRules } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z
  .object({
    watermarkPermille: watermarkPermille(0),
    maxTokens: maxTokensParam,
    clipMaxNewTokens: z.number().int().min(1).max(1 << 20).default(4096).describe('SGLANG_CLIP_MAX_NEW_TOKENS_ESTIMATION: max_tokens counted at most this much when reserving'),
    initNewTokenRatio: z.number().min(0).max(1).default(0.7).describe('new_token_ratio at start and after idling (default_init_new_token_ratio x schedule_conservativeness)'),
    minNewTokenRatioFactor: z.number().min(0).max(1).default(0.14).describe('floor of the ratio as a share of the initial ratio (default_min_new_token_ratio_factor)'),
    newTokenRatioDecaySteps: z.number().int().min(1).max(1_000_000).default(600).describe('decode iterations for the ratio to decay from its initial value to its floor'),
    retractDecodeSteps: z.number().int().min(0).max(4096).default(20).describe('retraction frees memory for this many decode tokens per remaining request (retract_decode_steps)'),
    schedulePolicy: z.enum(['fcfs', 'lpm']).default('fcfs').describe('waiting order (--schedule-policy): fcfs, or lpm (longest cached prefix first; needs --prefix-cache on to differ)'),
    lpmMaxWaiting: z.number().int().min(0).max(1 << 20).default(128).describe('lpm serves the queue in FCFS order while more than this many requests wait (SGLang: 128)'),
  })
  .strict();

type Params = z.infer<typeof params>;

/** The ratio is held per replica as a Q16 fixed-point u32 (65536 = 1.0). */
const ONE = 65536;
const RATIO = 0; // replica word

interface RatioConstants {
  init: number;
  min: number;
  decay: number;
}

function ratioConstants(p: Params): RatioConstants {
  const init = Math.round(p.initNewTokenRatio * ONE);
  const min = Math.round(p.initNewTokenRatio * p.minNewTokenRatioFactor * ONE);
  return { init, min, decay: Math.floor((init - min) / p.newTokenRatioDecaySteps) };
}

/** Tokens SGLang still counts on request j generating: min(max_tokens - generated, clip). */
function clippedNew(t: RequestTable, j: number, p: Params, lane: LaneConstants): number {
  return Math.min(Math.max(0, maxTokensOf(t, j, p.maxTokens, lane.maxModelLen) - t.generated[j]), p.clipMaxNewTokens);
}

/**
 * PrefillAdder (managers/schedule_policy.py): rem_total_tokens = free tokens - sum over decoding
 * requests of floor(ratio x clippedNew / 65536); a waiting request needs prefill + clippedNew <
 * rem_total_tokens, and charges both (a prompt cut to the budget charges only its chunk).
 */
function ratioAdmission(p: Params, lane: LaneConstants): AdmissionRule {
  let remTokens = 0;
  return {
    begin(ctx) {
      const t = ctx.requests;
      const ratio = ctx.replicaWords[RATIO];
      let reserved = 0;
      for (const j of ctx.running) {
        if (t.ctx[j] >= t.prefillTarget[j]) reserved += Math.floor((ratio * clippedNew(t, j, p, lane)) / ONE);
      }
      remTokens = ctx.freeBlocks() * lane.blockSize - reserved;
    },
    admit(ctx, j, tokens, force) {
      const t = ctx.requests;
      const extend = t.prefillTarget[j] - ctx.cachedTokens(j); // extend_input_len: the tokens past the cached prefix
      const total = extend + clippedNew(t, j, p, lane);
      if (!force && total >= remTokens) return false;
      remTokens -= tokens < extend ? tokens : total;
      return true;
    },
  };
}

/**
 * Before a decode iteration (update_running_batch, ScheduleBatch.retract_decode): if the free blocks
 * do not cover the decode, retract running requests, fewest generated tokens first (then longest
 * prompt), until free tokens >= retractDecodeSteps x remaining requests, keeping one; the ratio then
 * jumps to min(1, (generated + retractDecodeSteps x n) / sum of max_tokens) over the remaining
 * requests. Without retraction the ratio decays by one step, down to its floor.
 */
function retractBeforeDecode(p: Params, lane: LaneConstants, c: RatioConstants) {
  return (ctx: BatchContext) => {
    const t = ctx.requests;
    const words = ctx.replicaWords;
    let need = 0;
    for (const j of ctx.running) if (t.ctx[j] >= t.prefillTarget[j]) need += ctx.blocksToAdd(j, 1);
    if (ctx.freeBlocks() >= need) {
      words[RATIO] = Math.max(c.min, words[RATIO] - c.decay);
      return;
    }
    while (ctx.running.length > 1) {
      ctx.preempt(ctx.running[victimPosition(ctx)]);
      if (ctx.freeBlocks() * lane.blockSize >= p.retractDecodeSteps * ctx.running.length) break;
    }
    let decoded = 0;
    let maxNew = 0;
    for (const j of ctx.running) {
      decoded += t.generated[j];
      maxNew += maxTokensOf(t, j, p.maxTokens, lane.maxModelLen);
    }
    words[RATIO] = Math.min(ONE, floorDiv((decoded + p.retractDecodeSteps * ctx.running.length) * ONE, maxNew));
  };
}

/** floor(a / b) for integers below 2^53, exact (the float quotient corrected by one at most). */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q--;
  else if ((q + 1) * b <= a) q++;
  return q;
}

/**
 * SGLang's scheduler with schedule_policy fcfs or lpm (managers/scheduler.py, schedule_policy.py,
 * schedule_batch.py): prefill-priority batching; a waiting queue in (re)insertion order (retracted
 * requests go to its back: key = insertion time); conservative admission by a new-token ratio that
 * decays after every decode iteration without retraction and jumps back after one; retraction of
 * the requests with the fewest generated tokens.
 */
export const sglang: EngineScheduler<Params> = {
  name: 'sglang',
  summary: 'SGLang fcfs or lpm: prefill-priority batching, new-token-ratio admission, retract fewest-generated on decode OOM',
  params,
  batching: () => 'prefill-priority',
  key: (_t, _j, nowUs) => BigInt(nowUs),
  replicaWords: 1,
  rules: (p, lane): Partial<SchedulerRules> => {
    const c = ratioConstants(p);
    return {
      runningOrder: 'admission',
      admission: ratioAdmission(p, lane),
      preemptFirst: (t, a, b) => (t.generated[a] !== t.generated[b] ? t.generated[a] < t.generated[b] : t.promptTokens[a] > t.promptTokens[b]),
      beforeDecode: retractBeforeDecode(p, lane, c),
      // The ratio decays at every decode iteration, so a queued request may become admissible during a run of them.
      foldWithWaiting: false,
      admissionOrder: p.schedulePolicy === 'lpm' ? longestPrefixFirst(p.lpmMaxWaiting) : null,
      initReplica: (words) => {
        words[RATIO] = c.init;
      },
      onIdle: (words) => {
        words[RATIO] = c.init;
      },
      onFoldedDecodes: (words, iterations) => {
        words[RATIO] = Math.max(c.min, words[RATIO] - iterations * c.decay);
      },
    };
  },
  gpuParams: (p) => {
    const c = ratioConstants(p);
    return [c.init, c.min, c.decay | (p.retractDecodeSteps << 17), p.clipMaxNewTokens | (Number(p.maxTokens === 'max-model-len') << 24)];
  },
  samples: [
    {},
    { maxTokens: 'max-model-len' },
    { initNewTokenRatio: 0.3, newTokenRatioDecaySteps: 50, retractDecodeSteps: 4 },
    { clipMaxNewTokens: 64, minNewTokenRatioFactor: 0.5 },
    { schedulePolicy: 'lpm' },
    { schedulePolicy: 'lpm', lpmMaxWaiting: 4 },
  ],
};
