import { z } from 'zod';
import type { EngineScheduler } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z.object({ watermarkPermille: watermarkPermille(10) }).strict();

/**
 * vLLM v0's default scheduler: waiting requests in arrival order, whole prompts, prefill iterations
 * before decode iterations, and recompute-preemption of the newest running request when a decode
 * cannot get a KV block.
 */
export const vllmFcfs: EngineScheduler<z.infer<typeof params>> = {
  name: 'vllm-fcfs',
  summary: 'vLLM v0 FCFS: whole-prompt prefills first, recompute-preempt the newest on KV exhaustion',
  batching: () => 'prefill-first',
  params,
  key: () => 0n,
};
