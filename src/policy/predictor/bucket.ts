import { z } from 'zod';
import { clampPrediction, type Predictor } from './types.js';

const params = z
  .object({
    trainFraction: z.number().gt(0).max(1).default(0.2).describe('share of the trace (its first requests) whose outputs train the bucket means'),
  })
  .strict();

const bucketOf = (prompt: number) => 31 - Math.clz32(prompt); // floor(log2(prompt)), prompt >= 1

/**
 * Per prompt-length bucket (powers of two: [1, 2), [2, 4), ...) the mean output length of the
 * training prefix, the first ceil(trainFraction x n) requests of the lane's trace, rounded to the
 * nearest integer; a bucket with no training request gets the mean of the whole training prefix.
 */
export const bucket: Predictor<z.infer<typeof params>> = {
  name: 'bucket',
  summary: 'mean output of the prompt-length (power-of-two) bucket over a training prefix of the trace',
  params,
  seeded: false,
  samples: [{}, { trainFraction: 1 }],
  predict: (lengths, p) => {
    const n = lengths.outputTokens.length;
    const train = Math.min(n, Math.max(1, Math.ceil(p.trainFraction * n)));
    const sum = new Float64Array(33);
    const count = new Float64Array(33);
    let total = 0;
    for (let i = 0; i < train; i++) {
      const b = bucketOf(lengths.promptTokens[i]);
      sum[b] += lengths.outputTokens[i];
      count[b]++;
      total += lengths.outputTokens[i];
    }
    const fallback = n === 0 ? 1 : Math.round(total / train);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const b = bucketOf(lengths.promptTokens[i]);
      out[i] = clampPrediction(count[b] > 0 ? Math.round(sum[b] / count[b]) : fallback);
    }
    return out;
  },
};
