import { z } from 'zod';
import { committedBlocks } from './committed.js';
import { argminRotating, type Router } from './types.js';

const weight = (what: string, fallback: number) => z.number().int().min(0).max(1_000_000).default(fallback).describe(what);

const params = z
  .object({
    prefillWeight: weight('load per prompt token still to prefill', 1),
    decodeWeight: weight('load per predicted output token still to generate', 4),
    kvPressureWeight: weight('load per KV block the replica would commit beyond the threshold', 64),
    kvThresholdPermille: z.number().int().min(0).max(1000).default(900).describe('KV use (per mille of the blocks) above which committed blocks add pressure'),
  })
  .strict();

/**
 * schedlab's reading of SAL, token-aware load balancing (Kossmann et al. 2024), not the authors'
 * algorithm (docs/policies.md): the replica with the least anticipated load, prefillWeight x prompt
 * tokens still to prefill + decodeWeight x predicted output tokens still to generate +
 * kvPressureWeight x max(0, blocks it would commit with this prompt - kvThresholdPermille of its
 * blocks). Integer weights; the sum is compared exactly (a u64 on the GPU). Ties: the rotating scan.
 */
export const sal: Router<z.infer<typeof params>> = {
  name: 'sal',
  summary: "schedlab's reading of SAL: least anticipated token load (prefill + predicted decode) plus KV pressure",
  params,
  usesPrediction: true,
  tokenViews: true,
  route: (view, request, _seed, p) => {
    const threshold = Math.floor((view.kvBlocks * p.kvThresholdPermille) / 1000);
    return argminRotating(
      view.replicas,
      request.index,
      (r) =>
        p.prefillWeight * view.queuedPrefillTokens[r] +
        p.decodeWeight * view.predictedDecodeTokens[r] +
        p.kvPressureWeight * Math.max(0, committedBlocks(view, r, request.promptTokens) - threshold),
    );
  },
  gpuParams: (p, lane) => [p.prefillWeight, p.decodeWeight, p.kvPressureWeight, Math.floor((lane.kvBlocks * p.kvThresholdPermille) / 1000)],
  samples: [{}, { prefillWeight: 0, decodeWeight: 1, kvPressureWeight: 0 }, { kvThresholdPermille: 0, kvPressureWeight: 1000 }, { decodeWeight: 0 }],
};
