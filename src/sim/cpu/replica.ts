// One replica's state in the CPU reference: its queues, KV use and prefix cache, the iteration in
// progress and its fast-forward fold, and the scheduler's own u32 fields.
import type { PrefixCache } from './prefix-cache.js';

import type { DecodeRun } from '../../model/iteration.js';
/** What one iteration (or one fast-forwarded run of identical decode iterations) does. */
export interface Batch {
  requests: number[];
  tokens: number[]; // tokens processed per request in one iteration
  producesToken: boolean[];
  /** Identical iterations folded into this one (1 = no fast-forward). */
  iterations: number;
  firstEndUs: number;
}

export const emptyBatch = (): Batch => ({ requests: [], tokens: [], producesToken: [], iterations: 1, firstEndUs: 0 });

/**
 * A fast-forwarded run of decode iterations that later arrivals may lengthen. It holds the
 * iterations that start before the lane's next arrival; when that arrival goes to another replica,
 * nothing this replica's scheduler sees has changed, so the run goes on to the arrival after it.
 */
export interface Fold {
  /** Still lengthened at arrivals (false once an arrival is routed here, a completion or a block shortage ends it). */
  open: boolean;
  /** Iteration k of the run (k = 0 the first) lasts decodeRunUs(run, k). */
  run: DecodeRun;
  /** Iterations after which the first request completes or changes its key. */
  maxK: number;
  /** Requests by context length mod block size, at the first iteration. */
  residues: Int32Array;
  /** Iterations already taken off the decode views (ended before a routing instant). */
  settled: number;
}

export class Replica {
  waiting: number[] = []; // sorted by (key, request index)
  running: number[] = []; // in the scheduler's running order
  /** Blocks held by running requests (a cached block shared by several counts once). */
  usedBlocks = 0;
  busy = false;
  endUs = 0;
  batch: Batch = emptyBatch();
  fold: Fold;
  constructor(
    blockSize: number,
    private readonly kvBlocks: number,
    /** The scheduler's u32 fields of this replica. */
    readonly words: Uint32Array,
    /** Cached prompt blocks (prefix caching on), or null. */
    readonly cache: PrefixCache | null,
  ) {
    this.fold = { open: false, run: { firstPs: 0, stepPs: 0 }, maxK: 0, residues: new Int32Array(blockSize), settled: 0 };
  }

  /** Blocks no running request holds: empty ones and cached ones (which keep a prompt's KV until evicted). */
  freeBlocks(): number {
    return this.kvBlocks - this.usedBlocks;
  }

  /** n more blocks in use: cached blocks no request holds are evicted (least recently released first) when the empty ones do not suffice. */
  take(n: number): void {
    this.usedBlocks += n;
    this.cache?.evictDownTo(this.kvBlocks - this.usedBlocks);
  }

  /** Request j gives back its `blocks`: its own are freed, its first `cached` lose j's reference (cached blocks nobody holds become evictable). */
  release(j: number, blocks: number, cached: number): void {
    this.usedBlocks -= blocks - cached;
    if (cached > 0) this.usedBlocks -= this.cache!.release(j, cached);
  }
}
