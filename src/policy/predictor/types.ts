import type { z } from 'zod';
import type { Trace } from '../../trace/trace.js';

/** The lengths a predictor may look at: prompts, and the trace's outputs (as ground truth or training data). */
export type LengthColumns = Pick<Trace, 'promptTokens' | 'outputTokens'>;

/**
 * Predicts each request's output length before the run (input preparation on the host): one u32 per
 * request, at least 1, that both engines read. Floating point is allowed here; nothing inside the
 * simulation recomputes it.
 */
export interface Predictor<P = Record<string, unknown>> {
  name: string;
  summary: string;
  params: z.ZodType<P>;
  /** Parameter sets the GPU differential test draws from (src/sim/compare.ts). */
  samples?: readonly Record<string, unknown>[];
  /** Whether the lane seed changes the predictions. */
  seeded: boolean;
  predict(lengths: LengthColumns, params: P, seed: number): Uint32Array;
}

/** Predictions are clamped to [1, MAX_PREDICTION] so that keys and token sums stay far inside u32/u64. */
export const MAX_PREDICTION = 1 << 24;

export function clampPrediction(v: number): number {
  return Math.min(MAX_PREDICTION, Math.max(1, v));
}
