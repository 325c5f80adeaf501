import { z } from 'zod';
import { draw, Stream } from '../../rng.js';
import { clampPrediction, type Predictor } from './types.js';

const params = z
  .object({
    sigma: z.number().min(0).max(4).default(0.5).describe('standard deviation of the log-normal error (0 = oracle)'),
  })
  .strict();

/**
 * The oracle times a seeded log-normal error: round(output x exp(sigma x z)), z a standard normal from
 * Box-Muller over draws 2i and 2i+1 of stream `predictor` under the lane seed, clamped to [1, 2^24].
 * Median-unbiased (the median error factor is 1); the mean is inflated by exp(sigma^2 / 2).
 */
export const noisy: Predictor<z.infer<typeof params>> = {
  name: 'noisy',
  summary: 'oracle x seeded log-normal error of parameter sigma',
  params,
  seeded: true,
  samples: [{}, { sigma: 0.1 }, { sigma: 2 }],
  predict: (lengths, p, seed) => {
    const out = new Uint32Array(lengths.outputTokens.length);
    for (let i = 0; i < out.length; i++) {
      const u1 = (draw(seed, Stream.predictor, 2 * i) + 1) / 2 ** 32; // (0, 1]
      const u2 = draw(seed, Stream.predictor, 2 * i + 1) / 2 ** 32; // [0, 1)
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      out[i] = clampPrediction(Math.round(lengths.outputTokens[i] * Math.exp(p.sigma * z)));
    }
    return out;
  },
};
