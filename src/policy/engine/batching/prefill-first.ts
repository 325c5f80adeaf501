import { admissionAllows, displaceForWaiting, scheduleRunning } from './running.js';
import type { BatchContext, BatchingStrategy } from './types.js';

/** Prompt tokens waiting request h prefills when it starts: all but its cached prefix. */
const wholePrompt = (ctx: BatchContext, h: number) => ctx.requests.prefillTarget[h] - ctx.cachedTokens(h);

/** Whether waiting request h could start now as a whole prompt (sequence slot, token budget, watermark). */
function fitsWhole(ctx: BatchContext, h: number, tokensSoFar: number): boolean {
  const { limits } = ctx;
  const need = wholePrompt(ctx, h);
  return (
    ctx.running.length < limits.maxNumSeqs &&
    tokensSoFar + need <= limits.maxBatchedTokens &&
    ctx.freeBlocks() - ctx.blocksToAdd(h, need) >= limits.watermarkBlocks
  );
}

/**
 * vLLM v0: waiting requests in order are admitted with their whole prompt while they fit; the first
 * that does not stops admission (head-of-line blocking). An iteration that admitted anything runs
 * only those prefills; otherwise every running request decodes one token.
 */
export const prefillFirst: BatchingStrategy = {
  name: 'prefill-first',
  summary: 'vLLM v0: whole prompts first; an iteration with prefills runs no decodes',
  wholePrompts: true,
  formBatch(ctx) {
    displaceForWaiting(ctx, (h) => fitsWhole(ctx, h, 0));
    ctx.rules.admission?.begin(ctx);
    let tokens = 0;
    while (ctx.waiting.length > 0) {
      const j = ctx.waiting[0];
      if (!fitsWhole(ctx, j, tokens)) break;
      const need = wholePrompt(ctx, j);
      if (!admissionAllows(ctx, j, need)) break;
      ctx.admit(j, need);
      tokens += need;
    }
    if (ctx.batchLength() > 0) return false;
    return scheduleRunning(ctx, Infinity).preempted === false;
  },
};
