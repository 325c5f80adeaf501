import { z } from 'zod';
import type { EngineScheduler } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z.object({ watermarkPermille: watermarkPermille(0) }).strict();

/**
 * vLLM v1 / Sarathi-Serve: one token budget per iteration (max_num_batched_tokens); running requests
 * first (decodes and unfinished prompt chunks), then new prompts chunked into what is left.
 * vLLM v1 keeps no watermark, hence the default of 0.
 */
export const chunkedPrefill: EngineScheduler<z.infer<typeof params>> = {
  name: 'chunked-prefill',
  summary: 'vLLM v1 / Sarathi-Serve: token budget per iteration, decodes first, prompts chunked',
  batching: () => 'chunked',
  params,
  key: () => 0n,
};
