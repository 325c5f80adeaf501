import { z } from 'zod';
import { batchingParam, predictedRemaining } from './common-params.js';
import type { EngineScheduler } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z
  .object({
    watermarkPermille: watermarkPermille(0),
    preemptMarginTokens: z
      .number()
      .int()
      .min(0)
      .max(1 << 24)
      .default(64)
      .describe('a waiting request displaces a running one only if its predicted remaining output is shorter by more than this'),
    batching: batchingParam,
  })
  .strict();

/**
 * Shortest remaining processing time on predicted output tokens (the literature's SRPT, e.g.
 * FastServe and learning-to-rank schedulers): key = max(predicted - generated, 0) when the request
 * is queued; at each iteration start, while the waiting head cannot start and some running request
 * has more than preemptMarginTokens more predicted remaining output, that request (the one with the
 * most) is recompute-preempted; a block shortage preempts the same one.
 */
export const srpt: EngineScheduler<z.infer<typeof params>> = {
  name: 'srpt',
  summary: 'shortest predicted remaining output first, preemptive at iteration boundaries',
  params,
  usesPrediction: true,
  batching: (p) => p.batching,
  key: (t, j) => BigInt(predictedRemaining(t, j)),
  rules: (p) => ({
    preemptFirst: (t, a, b) => predictedRemaining(t, a) > predictedRemaining(t, b),
    displaces: (t, h, r) => predictedRemaining(t, r) > predictedRemaining(t, h) + p.preemptMarginTokens,
  }),
  gpuParams: (p) => [p.preemptMarginTokens],
  samples: [{ preemptMarginTokens: 0 }, { preemptMarginTokens: 64 }, { preemptMarginTokens: 1 << 24, batching: 'prefill-first' }],
};
