import { z } from 'zod';
import { capacityPermille, prefixRouting, type PrefixIndex } from './prefix-index.js';
import { argminRotating, outstandingRange, refreshMs, type Router } from './types.js';

const params = z
  .object({
    cacheThresholdPermille: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(300)
      .describe('the best-matching replica gets the request when its match covers more than this share of the prompt, per mille (cache_threshold 0.3)'),
    balanceAbsThreshold: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(64)
      .describe('load is imbalanced when the most and least outstanding requests differ by more than this (balance_abs_threshold)...'),
    balanceRelThresholdPermille: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(1500)
      .describe('...and the most exceeds this per mille of the least (balance_rel_threshold 1.5)'),
    capacityPermille,
    refreshMs: refreshMs(0),
  })
  .strict();

type Params = z.infer<typeof params>;

/**
 * SGLang's cache-aware router (sgl-router, policy cache_aware): when outstanding requests are
 * imbalanced (max - min > balanceAbsThreshold and max x 1000 > balanceRelThresholdPermille x min),
 * the least loaded replica; otherwise the replica whose remembered prefix of this prompt is longest
 * (ties: fewer outstanding, then the rotating scan) if that match covers more than
 * cacheThresholdPermille of the prompt, else the replica with the fewest remembered units (the most
 * cache room). The prefix memory is the router's own (PrefixIndex), updated with every routing.
 */
export const prefixAffinity: Router<Params, PrefixIndex> = {
  name: 'prefix-affinity',
  summary: "SGLang's cache-aware router: longest remembered prefix, least loaded when imbalanced, most room on a weak match",
  params,
  ...prefixRouting,
  route: (view, request, _seed, p, index) => {
    const n = view.replicas;
    const load = view.outstanding;
    const { min, max } = outstandingRange(view);
    const units = request.prefixUnits;
    let chosen: number;
    if (max - min > p.balanceAbsThreshold && max * 1000 > p.balanceRelThresholdPermille * min) {
      chosen = argminRotating(n, request.index, (r) => load[r]);
    } else {
      const match = Array.from({ length: n }, (_, r) => index.match(r, units));
      const best = argminRotating(n, request.index, (r) => -match[r], (r) => load[r]);
      const matchedTokens = Math.min(match[best] * request.prefixUnitTokens, request.promptTokens);
      chosen = matchedTokens * 1000 > p.cacheThresholdPermille * request.promptTokens ? best : argminRotating(n, request.index, (r) => index.size(r));
    }
    index.record(chosen, units);
    return chosen;
  },
  gpuParams: (p) => [p.cacheThresholdPermille, p.balanceAbsThreshold, p.balanceRelThresholdPermille],
  samples: [{}, { cacheThresholdPermille: 0, balanceAbsThreshold: 4 }, { refreshMs: 100, capacityPermille: 50 }],
};
