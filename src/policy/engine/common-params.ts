// Parameters several schedulers share, defined once so sweeps see one column for each.
import { z } from 'zod';
import type { RequestTable } from './types.js';

/** The batching strategy of schedulers that can run either of vLLM's families. */
export const batchingParam = z
  .enum(['chunked', 'prefill-first'])
  .default('chunked')
  .describe('batching strategy: chunked (vLLM v1 token budget) or prefill-first (vLLM v0 whole prompts)');

/** The client's max_tokens, which TensorRT-LLM and SGLang reserve KV memory for. */
export const maxTokensParam = z
  .enum(['trace-output', 'max-model-len'])
  .default('trace-output')
  .describe("each request's max_tokens: its trace output length (benchmark clients send it) or all of maxModelLen - prompt");

export type MaxTokens = z.infer<typeof maxTokensParam>;

/** Request j's max_tokens under the parameter (reading the trace output is what the client would send). */
export function maxTokensOf(t: RequestTable, j: number, mode: MaxTokens, maxModelLen: number): number {
  return mode === 'trace-output' ? t.outputTokens[j] : maxModelLen - t.promptTokens[j];
}

/** max(predicted - generated, 0): the predictor's remaining output tokens of request j. */
export function predictedRemaining(t: RequestTable, j: number): number {
  return Math.max(0, t.predicted[j] - t.generated[j]);
}
