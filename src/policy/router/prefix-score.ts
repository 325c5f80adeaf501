import { z } from 'zod';
import { capacityPermille, prefixRouting, type PrefixIndex } from './prefix-index.js';
import { argminRotating, outstandingRange, refreshMs, type Router } from './types.js';

const weight = (what: string, fallback: number) => z.number().int().min(0).max(1000).default(fallback).describe(what);

const params = z
  .object({
    prefixWeight: weight('weight of the prefix score: remembered leading prefix units / prompt units (prefix-cache-scorer, 3)', 3),
    queueWeight: weight('weight of the queue score: outstanding requests, min-max normalised, fewest best (queue-scorer, 2)', 2),
    kvWeight: weight('weight of the KV score: share of KV blocks not in use (kv-cache-utilization-scorer, 2)', 2),
    capacityPermille,
    refreshMs: refreshMs(50),
  })
  .strict();

type Params = z.infer<typeof params>;

/**
 * llm-d's inference scheduler with its default scorers (approximate prefix-cache, queue and
 * KV-cache-utilization scorers, max-score picker), in integers: each score is per mille, floored,
 * prefix = floor(1000 x matched units / prompt units) (0 without units), queue = 1000 if every
 * replica has as many outstanding requests, else floor(1000 x (max - outstanding) / (max - min)),
 * KV = 1000 - floor(1000 x blocks in use / kvBlocks); the replica with the largest weighted sum
 * wins, ties by the rotating scan. Replica views are refreshed every refreshMs (llm-d scrapes
 * metrics every 50 ms); the prefix memory is the router's own (PrefixIndex).
 */
export const prefixScore: Router<Params, PrefixIndex> = {
  name: 'prefix-score',
  summary: "llm-d's scorers: weighted prefix match, queue and KV-use scores, highest total",
  params,
  ...prefixRouting,
  route: (view, request, _seed, p, index) => {
    const n = view.replicas;
    const load = view.outstanding;
    const { min, max } = outstandingRange(view);
    const units = request.prefixUnits;
    const score = (r: number) => {
      const prefix = units.length > 0 ? Math.floor((1000 * index.match(r, units)) / units.length) : 0;
      const queue = max === min ? 1000 : Math.floor((1000 * (max - load[r])) / (max - min));
      const kv = 1000 - Math.floor((1000 * view.usedBlocks[r]) / view.kvBlocks);
      return p.prefixWeight * prefix + p.queueWeight * queue + p.kvWeight * kv;
    };
    const scores = Array.from({ length: n }, (_, r) => score(r));
    const chosen = argminRotating(n, request.index, (r) => -scores[r]);
    index.record(chosen, units);
    return chosen;
  },
  gpuParams: (p) => [p.prefixWeight, p.queueWeight, p.kvWeight],
  samples: [{}, { prefixWeight: 1, queueWeight: 0, kvWeight: 0 }, { refreshMs: 0 }, { refreshMs: 1000, prefixWeight: 10 }],
};
