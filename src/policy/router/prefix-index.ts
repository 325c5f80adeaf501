// The router's own model of the replicas' prefix caches, as SGLang's router keeps an approximate radix
// tree of the text it routed to each worker and llm-d's approximate prefix scorer an LRU index of the
// blocks it routed: it never reads a replica's cache. Shared by prefix-affinity and prefix-score.
import { z } from 'zod';
import type { RouterSetup } from './types.js';

export const capacityPermille = z
  .number()
  .int()
  .min(1)
  .max(1_000_000)
  .default(1000)
  .describe("prefix units the router remembers per replica, per mille of the replica's KV capacity in tokens (kvBlocks x blockSize)");

/** Units a PrefixIndex remembers per replica (the GPU twin sizes its memory by it). */
export function prefixIndexCapacity(setup: Omit<RouterSetup, 'replicas'>, permille: number): number {
  const unit = Math.max(1, setup.prefixUnitTokens);
  return Math.max(1, Number((BigInt(setup.kvBlocks) * BigInt(setup.blockSize) * BigInt(permille)) / (1000n * BigInt(unit))));
}

/**
 * Per replica, the prefix units (chain ids) of the prompts routed there, at most `capacity` of them,
 * with `capacity = max(1, floor(kvBlocks x blockSize x capacityPermille / (1000 x unit tokens)))`.
 * Routing a request to a replica touches its units there, the deepest first, so that a prompt's
 * head is always more recent than its tail; beyond the capacity the least recently touched unit is
 * forgotten at once. Hence the units remembered on a replica are prefix-closed and a request's match
 * is its leading units found there.
 */
export class PrefixIndex {
  /** Per replica: chain id -> present, in least-recently-touched-first order (a Map keeps insertion order). */
  private readonly units: Map<number, true>[];
  readonly capacity: number;

  constructor(setup: RouterSetup, permille: number) {
    this.units = Array.from({ length: setup.replicas }, () => new Map());
    this.capacity = prefixIndexCapacity(setup, permille);
  }

  /** Leading units of `chain` the router remembers on replica r. */
  match(r: number, chain: ArrayLike<number>): number {
    const seen = this.units[r];
    let m = 0;
    while (m < chain.length && seen.has(chain[m])) m++;
    return m;
  }

  /** Units remembered on replica r (SGLang's tree size, in units). */
  size(r: number): number {
    return this.units[r].size;
  }

  /** The request's units were routed to replica r. */
  record(r: number, chain: ArrayLike<number>): void {
    const seen = this.units[r];
    for (let u = chain.length - 1; u >= 0; u--) {
      seen.delete(chain[u]);
      seen.set(chain[u], true);
    }
    while (seen.size > this.capacity) seen.delete(seen.keys().next().value!);
  }
}

/** What the prefix routers share: the prefix memory (parameter capacityPermille) and stale views (refreshMs). */
export const prefixRouting = {
  usesPrefixes: true,
  init: (setup: RouterSetup, p: { capacityPermille: number }) => new PrefixIndex(setup, p.capacityPermille),
  refreshUs: (p: { refreshMs: number }) => p.refreshMs * 1000,
} as const;
