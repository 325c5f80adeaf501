// One replica's prefix cache in the CPU reference (docs/semantics.md, "Prefix caching"): vLLM's
// automatic prefix caching on schedlab's block counts. Full prompt blocks are cache entries named by
// their chain key; running requests hold references to them; an entry no request holds stays cached
// (and counts as free) until an allocation needs its space, least recently released first.
import type { BlockKeys } from '../prefix-units.js';

interface Entry {
  key: number;
  refs: number;
  // The evictable list (refs 0), least recently released first, as vLLM's FreeKVCacheBlockQueue.
  prev: Entry | null;
  next: Entry | null;
}

/** Effect of a block computed by a request on the cache. */
export const Inserted = {
  /** A new entry: the request's own block, still held by it. */
  New: 0,
  /** An equal entry held by another request: the request shares it and its own copy is freed. */
  SharedInUse: 1,
  /** An equal evictable entry: the request takes it back from the evictable list and its copy is freed. */
  SharedRevived: 2,
} as const;
export type Inserted = (typeof Inserted)[keyof typeof Inserted];

export class PrefixCache {
  private readonly entries = new Map<number, Entry>();
  private head: Entry | null = null;
  private tail: Entry | null = null;
  /** Entries no running request holds (they count as free blocks). */
  evictable = 0;
  /** Entries held by at least one running request (they count as blocks in use). */
  held = 0;
  /** Entries evicted to make room, over the run. */
  evicted = 0;
  /** Bumped by every change, so that a lookup can be reused until the next one. */
  version = 0;

  constructor(readonly keys: BlockKeys) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Leading blocks of request j's prompt cached here, at most `limit`. Entries are prefix-closed (a
   * block is cached only while the block before it in its prompt is: a request inserts and holds a
   * prompt's blocks from its start, and releases the deepest first, so the evictable list always
   * reaches a block's successors before the block), hence a binary search finds the first miss.
   */
  hitBlocks(j: number, limit: number): number {
    return this.leading(j, limit, (e) => e !== undefined);
  }

  /** Of request j's first n blocks (all cached), those some running request holds: prefix-closed too (a holder holds the blocks before). */
  heldAmong(j: number, n: number): number {
    return this.leading(j, n, (e) => e!.refs > 0);
  }

  /** The same two counts by walking block by block (the invariant checks compare them with the searches). */
  walk(j: number, limit: number): { blocks: number; held: number } {
    let blocks = 0;
    while (blocks < limit && this.entries.has(this.keys.key(j, blocks))) blocks++;
    let held = 0;
    while (held < blocks && this.entries.get(this.keys.key(j, held))!.refs > 0) held++;
    return { blocks, held };
  }

  /** Largest m <= n such that `has` holds for j's blocks 0..m-1, given that it holds for a prefix of them. */
  private leading(j: number, n: number, has: (e: Entry | undefined) => boolean): number {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (has(this.entries.get(this.keys.key(j, mid - 1)))) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Request j takes a reference to its first n blocks (all cached); returns how many it took off the evictable list. */
  acquire(j: number, n: number): number {
    let revived = 0;
    for (let i = 0; i < n; i++) if (this.ref(this.entries.get(this.keys.key(j, i))!)) revived++;
    this.version++;
    return revived;
  }

  /**
   * Request j drops its references to its first n blocks, the deepest first (as vLLM frees a
   * request's blocks in reverse), so a prompt's tail is evicted before its head; returns how many
   * entries became evictable.
   */
  release(j: number, n: number): number {
    let freed = 0;
    for (let i = n - 1; i >= 0; i--) {
      const e = this.entries.get(this.keys.key(j, i))!;
      e.refs--;
      if (e.refs === 0) {
        this.held--;
        this.append(e);
        freed++;
      }
    }
    this.version++;
    return freed;
  }

  /** Block i of request j, just computed, joins the cache (j holds blocks 0..i-1 as entries). */
  insert(j: number, i: number): Inserted {
    const key = this.keys.key(j, i);
    const found = this.entries.get(key);
    this.version++;
    if (found) return this.ref(found) ? Inserted.SharedRevived : Inserted.SharedInUse;
    this.entries.set(key, { key, refs: 1, prev: null, next: null });
    this.held++;
    return Inserted.New;
  }

  /** Evicts least recently released entries while more than `room` are evictable (room: the free blocks left for them). */
  evictDownTo(room: number): void {
    while (this.evictable > room) {
      const e = this.head!;
      this.unlink(e);
      this.entries.delete(e.key);
      this.evicted++;
      this.version++;
    }
  }

  /** Every entry as (key, reference count), for the invariant checks. */
  *entriesForCheck(): Iterable<[number, number]> {
    for (const [key, e] of this.entries) yield [key, e.refs];
  }

  /** Adds a reference; true if the entry came off the evictable list. */
  private ref(e: Entry): boolean {
    e.refs++;
    if (e.refs > 1) return false;
    this.unlink(e);
    this.held++;
    return true;
  }

  private append(e: Entry): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
    this.evictable++;
  }

  private unlink(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
    this.evictable--;
  }
}
