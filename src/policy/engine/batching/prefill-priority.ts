import { admissionAllows, scheduleRunning } from './running.js';
import type { BatchingStrategy } from './types.js';

/**
 * SGLang (without mixed chunks): a prefill iteration whenever there is prompt work that can start,
 * else a decode iteration of every running request. A prefill iteration takes, within the token
 * budget (chunked_prefill_size), the next chunk of the prompt being prefilled, then waiting requests
 * in order; the one that does not fit the rest of the budget is cut to it (at most one prompt is
 * in progress at a time). Before a decode iteration the rules' beforeDecode runs (SGLang's memory
 * check and retraction).
 */
export const prefillPriority: BatchingStrategy = {
  name: 'prefill-priority',
  summary: 'SGLang: prefill iterations (one prompt chunked to the budget) before decode iterations',
  wholePrompts: false,
  formBatch(ctx) {
    const { limits, requests: t } = ctx;
    let budget = limits.maxBatchedTokens;
    // The prompt in progress, if any, goes on while its chunk's blocks are free.
    for (let i = 0; i < ctx.running.length && budget > 0; i++) {
      const j = ctx.running[i];
      if (t.ctx[j] >= t.prefillTarget[j]) continue;
      const tokens = Math.min(t.prefillTarget[j] - t.ctx[j], budget);
      if (ctx.blocksToAdd(j, tokens) > ctx.freeBlocks()) continue;
      ctx.schedule(j, tokens);
      budget -= tokens;
    }
    ctx.rules.admission?.begin(ctx);
    while (ctx.waiting.length > 0 && budget > 0 && ctx.running.length < limits.maxNumSeqs) {
      const j = ctx.waiting[0];
      const chunk = Math.min(t.prefillTarget[j] - ctx.cachedTokens(j), budget);
      if (ctx.freeBlocks() - ctx.blocksToAdd(j, chunk) < limits.watermarkBlocks) break;
      if (!admissionAllows(ctx, j, chunk)) break;
      ctx.admit(j, chunk);
      budget -= chunk;
    }
    if (ctx.batchLength() > 0) return false;
    ctx.rules.beforeDecode?.(ctx);
    const { preempted, allDecodes } = scheduleRunning(ctx, Infinity);
    return !preempted && allDecodes;
  },
};
