// Host-side input preparation for prefix caching (docs/semantics.md, "Prefix caching"): the trace's
// prefix hashes interned into dense chain ids, and the key of every cacheable KV block derived from
// them. Both engines read the same arrays; nothing inside the simulation hashes anything.
import { ConfigError } from '../model/profile.js';
import type { Trace } from '../trace/trace.js';

/**
 * A trace's prompts cut into prefix units (one per trace hash, `unitTokens` tokens each, the last
 * unit of a prompt possibly shorter). Unit u of request i has the chain id chain[offsets[i] + u]:
 * ids are numbered 0, 1, ... in order of first appearance (requests in trace order, units in order),
 * and two units have the same id exactly when their hashes and the hashes of every unit before them
 * are equal, i.e. when the two prompts agree up to the end of that unit.
 */
export interface PrefixUnits {
  chain: Uint32Array;
  offsets: Uint32Array;
  unitTokens: number;
  /** Distinct chain ids. */
  count: number;
}

const interned = new WeakMap<Uint32Array, PrefixUnits>();

/** The trace's prefix units (cached per hash array), or null when the trace carries no prefix hashes. */
export function prefixUnits(trace: Trace): PrefixUnits | null {
  const { prefixHashes: hashes, prefixOffsets: offsets, prefixBlockTokens: unitTokens } = trace;
  if (!hashes || !offsets || !unitTokens) return null;
  let units = interned.get(hashes);
  if (!units || units.offsets !== offsets) {
    units = { ...internChains(hashes, offsets), offsets, unitTokens };
    interned.set(hashes, units);
  }
  return units;
}

function internChains(hashes: Uint32Array, offsets: Uint32Array): { chain: Uint32Array; count: number } {
  const chain = new Uint32Array(hashes.length);
  // (parent id + 1, hash) -> id; a number key while it stays below 2^53, a string beyond.
  const small = new Map<number, number>();
  const large = new Map<string, number>();
  let count = 0;
  for (let i = 0; i + 1 < offsets.length; i++) {
    let parent = -1;
    for (let w = offsets[i]; w < offsets[i + 1]; w++) {
      const h = hashes[w];
      const useSmall = parent + 1 < 2 ** 21;
      const key = useSmall ? (parent + 1) * 2 ** 32 + h : `${parent}:${h}`;
      let id = useSmall ? small.get(key as number) : large.get(key as string);
      if (id === undefined) {
        id = count++;
        if (useSmall) small.set(key as number, id);
        else large.set(key as string, id);
      }
      chain[w] = id;
      parent = id;
    }
  }
  return { chain, count };
}

/**
 * The identity of a request's cacheable KV blocks on a lane with `blockSize`-token blocks. Only full
 * blocks of the prompt covered by its units are cacheable: request j has cacheable(j) =
 * floor(min(prompt, units × unitTokens) / blockSize) of them. Block i (tokens [i·bs, (i+1)·bs)) has
 * the key (c, i) with c the chain id of the unit holding its last token, unit floor(((i+1)·bs − 1) /
 * unitTokens): the pair names the block's contents, its tokens and every token before them. The CPU
 * reference packs the pair into one number, c · 2^shift + i.
 */
export class BlockKeys {
  private readonly cacheableBlocks: Int32Array;
  private readonly scale: number;

  constructor(
    private readonly units: PrefixUnits,
    prompts: Uint32Array,
    private readonly blockSize: number,
  ) {
    const n = prompts.length;
    this.cacheableBlocks = new Int32Array(n);
    let most = 0;
    for (let j = 0; j < n; j++) {
      const covered = Math.min(prompts[j], (units.offsets[j + 1] - units.offsets[j]) * units.unitTokens);
      this.cacheableBlocks[j] = Math.floor(covered / blockSize);
      if (this.cacheableBlocks[j] > most) most = this.cacheableBlocks[j];
    }
    this.scale = 2 ** Math.ceil(Math.log2(most + 1));
    if (units.count * this.scale > 2 ** 53) {
      throw new ConfigError(`prefix caching: ${units.count} prefix chains x ${this.scale} blocks per prompt exceed the key space; use a larger --block-size`);
    }
  }

  /** Full prompt blocks of request j that have an identity (a cache key). */
  cacheable(j: number): number {
    return this.cacheableBlocks[j];
  }

  key(j: number, i: number): number {
    const u = Math.floor(((i + 1) * this.blockSize - 1) / this.units.unitTokens);
    return this.units.chain[this.units.offsets[j] + u] * this.scale + i;
  }
}
