import type { z } from 'zod';

/** How a scheduler fills an iteration; the two families vLLM has shipped. */
export type Batching =
  /** vLLM v0 default: admit whole prompts first; an iteration with prefills runs no decodes. */
  | 'prefill-first'
  /** vLLM v1 / Sarathi-Serve: running requests first (decodes and prompt chunks), then new prompt chunks, in one token budget. */
  | 'chunked';

export interface RequestShape {
  index: number;
  promptTokens: number;
  outputTokens: number;
}

export interface EngineScheduler<P extends { watermarkPermille: number } = { watermarkPermille: number }> {
  name: string;
  summary: string;
  batching: Batching;
  params: z.ZodType<P>;
  /** Priority key, lower runs first; ties go to the lower request index. Must fit in u32. */
  priorityKey(request: RequestShape, params: P): number;
}
