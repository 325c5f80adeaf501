import { admissionAllows, displaceForWaiting, scheduleRunning } from './running.js';
import type { BatchContext, BatchingStrategy } from './types.js';

/** The first chunk of waiting request h within `budget` tokens, or 0 if it cannot start (slot, watermark). */
function firstChunk(ctx: BatchContext, h: number, budget: number): number {
  const { limits, requests } = ctx;
  if (ctx.running.length >= limits.maxNumSeqs || budget <= 0) return 0;
  const chunk = Math.min(requests.prefillTarget[h] - ctx.cachedTokens(h), budget);
  return ctx.freeBlocks() - ctx.blocksToAdd(h, chunk) >= limits.watermarkBlocks ? chunk : 0;
}

/**
 * vLLM v1 / Sarathi-Serve: one token budget per iteration; running requests first (decodes and
 * unfinished prompt chunks, in running order), then, if nothing was preempted, waiting requests in
 * order with a first chunk of what is left.
 */
export const chunked: BatchingStrategy = {
  name: 'chunked',
  summary: 'vLLM v1 / Sarathi-Serve: token budget per iteration, running requests first, new prompts chunked',
  wholePrompts: false,
  formBatch(ctx) {
    const budgetAll = ctx.limits.maxBatchedTokens;
    displaceForWaiting(ctx, (h) => firstChunk(ctx, h, budgetAll) > 0);
    const { preempted, budgetLeft, allDecodes } = scheduleRunning(ctx, budgetAll);
    if (preempted) return false;
    ctx.rules.admission?.begin(ctx);
    let budget = budgetLeft;
    let admitted = false;
    while (ctx.waiting.length > 0) {
      const j = ctx.waiting[0];
      const chunk = firstChunk(ctx, j, budget);
      if (chunk === 0 || !admissionAllows(ctx, j, chunk)) break;
      ctx.admit(j, chunk);
      budget -= chunk;
      admitted = true;
    }
    return !admitted && allDecodes && ctx.batchLength() === ctx.running.length;
  },
};
