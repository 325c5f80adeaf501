import type { BatchingStrategy } from './types.js';

/**
 * TensorRT-LLM's MAX_UTILIZATION capacity scheduler, with its micro-batch token budget: one pass over
 * the replica's requests in arrival (index) order, started and new alike. Each gets its next step if
 * its blocks are free (a started request: a decode or its next prompt chunk; a new one: a first
 * chunk within the budget, while a sequence slot is free); if not, the last started request at or
 * after it in arrival order is paused (recompute-preempted) and requests from there on are left out
 * of this iteration; with no such request the pass ends. The pass also ends when the token budget
 * or the sequence slots are used up (pausing would not help then).
 */
export const arrivalPass: BatchingStrategy = {
  name: 'arrival-pass',
  summary: 'TensorRT-LLM MAX_UTILIZATION: one arrival-order pass; a request that does not fit pauses the newest started one',
  wholePrompts: false,
  formBatch(ctx) {
    const { limits, requests: t } = ctx;
    const running = ctx.running;
    const waiting = ctx.waiting;
    let budget = limits.maxBatchedTokens;
    let cut = Infinity; // requests from this index on sit out this iteration
    let r = 0; // next running request (by index)
    let paused = false;
    let admitted = false;
    let allDecodes = true;
    while (budget > 0) {
      const fromRunning = r < running.length && (waiting.length === 0 || running[r] < waiting[0]);
      const j = fromRunning ? running[r] : waiting.length > 0 ? waiting[0] : -1;
      if (j < 0 || j >= cut) break;
      let tokens: number;
      if (fromRunning) {
        tokens = t.ctx[j] < t.prefillTarget[j] ? Math.min(t.prefillTarget[j] - t.ctx[j], budget) : 1;
      } else {
        if (running.length >= limits.maxNumSeqs) break;
        tokens = Math.min(t.prefillTarget[j] - ctx.cachedTokens(j), budget);
      }
      if (ctx.blocksToAdd(j, tokens) <= ctx.freeBlocks() - (fromRunning ? 0 : limits.watermarkBlocks)) {
        if (fromRunning) {
          if (t.ctx[j] < t.prefillTarget[j]) allDecodes = false;
          ctx.schedule(j, tokens);
          r++;
        } else {
          ctx.admit(j, tokens);
          admitted = true;
          r++; // j joined the running list (index order) before the next unscheduled one
        }
        budget -= tokens;
        continue;
      }
      const last = running[running.length - 1];
      if (running.length === 0 || last < j || ctx.scheduled(last)) break;
      ctx.preempt(last);
      paused = true;
      cut = last;
    }
    return !paused && !admitted && allDecodes && ctx.batchLength() === running.length;
  },
};
