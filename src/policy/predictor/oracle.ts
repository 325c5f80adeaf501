import { z } from 'zod';
import type { Predictor } from './types.js';

/** The trace's own output length: a perfect predictor, the upper bound of what prediction can give. */
export const oracle: Predictor = {
  name: 'oracle',
  summary: "the trace's output length (perfect prediction)",
  params: z.object({}).strict(),
  seeded: false,
  predict: (lengths) => Uint32Array.from(lengths.outputTokens),
};
