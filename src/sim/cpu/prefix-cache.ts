// One replica's prefix cache in the CPU reference (docs/semantics.md, "Prefix caching"): vLLM's
// automatic prefix caching on schedlab's block counts. Full prompt blocks are cache entries named by
// their chain key; running requests hold references to them; an entry no request holds stays cached
// (and counts as free) until an allocation needs its space, least recently released first.
import type { BlockKeys } from '../prefix-units.js';
import { KeyTable } from './key-table.js';

const NONE = -1;

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
  /** key -> entry id; an entry's fields live in the arrays below (ids are reused after eviction). */
  private readonly table = new KeyTable();
  private keyOf = new Float64Array(64);
  private refsOf = new Int32Array(64);
  // The evictable list (refs 0), least recently released first, as vLLM's FreeKVCacheBlockQueue.
  private prev = new Int32Array(64);
  private next = new Int32Array(64);
  private head = NONE;
  private tail = NONE;
  /** Entry ids freed by evictions, reused before new ones. */
  private freeIds: number[] = [];
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
    return this.table.size;
  }

  /**
   * Leading blocks of request j's prompt cached here, at most `limit`. Entries are prefix-closed (a
   * block is cached only while the block before it in its prompt is: a request inserts and holds a
   * prompt's blocks from its start, and releases the deepest first, so the evictable list always
   * reaches a block's successors before the block), hence a binary search finds the first miss.
   */
  hitBlocks(j: number, limit: number): number {
    return this.leading(j, limit, (e) => e !== NONE);
  }

  /** Of request j's first n blocks (all cached), those some running request holds: prefix-closed too (a holder holds the blocks before). */
  heldAmong(j: number, n: number): number {
    return this.leading(j, n, (e) => this.refsOf[e] > 0);
  }

  /** The same two counts by walking block by block (the invariant checks compare them with the searches). */
  walk(j: number, limit: number): { blocks: number; held: number } {
    let blocks = 0;
    while (blocks < limit && this.entry(j, blocks) !== NONE) blocks++;
    let held = 0;
    while (held < blocks && this.refsOf[this.entry(j, held)] > 0) held++;
    return { blocks, held };
  }

  /** Request j takes a reference to its first n blocks (all cached); returns how many it took off the evictable list. */
  acquire(j: number, n: number): number {
    let revived = 0;
    for (let i = 0; i < n; i++) if (this.ref(this.entry(j, i))) revived++;
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
      const e = this.entry(j, i);
      if (--this.refsOf[e] === 0) {
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
    const found = this.table.get(key);
    this.version++;
    if (found !== NONE) return this.ref(found) ? Inserted.SharedRevived : Inserted.SharedInUse;
    const e = this.freeIds.pop() ?? this.newId();
    this.keyOf[e] = key;
    this.refsOf[e] = 1;
    this.table.add(key, e);
    this.held++;
    return Inserted.New;
  }

  /** Evicts least recently released entries while more than `room` are evictable (room: the free blocks left for them). */
  evictDownTo(room: number): void {
    while (this.evictable > room) {
      const e = this.head;
      this.unlink(e);
      this.table.delete(this.keyOf[e]);
      this.freeIds.push(e);
      this.evicted++;
      this.version++;
    }
  }

  /** Every entry as (key, reference count), for the invariant checks. */
  *entriesForCheck(): Iterable<[number, number]> {
    const free = new Set(this.freeIds);
    for (let e = 0; e < this.size + free.size; e++) if (!free.has(e)) yield [this.keyOf[e], this.refsOf[e]];
  }

  private entry(j: number, i: number): number {
    return this.table.get(this.keys.key(j, i));
  }

  /** Largest m <= n such that `has` holds for j's blocks 0..m-1, given that it holds for a prefix of them. */
  private leading(j: number, n: number, has: (e: number) => boolean): number {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (has(this.entry(j, mid - 1))) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Adds a reference; true if the entry came off the evictable list. */
  private ref(e: number): boolean {
    if (++this.refsOf[e] > 1) return false;
    this.unlink(e);
    this.held++;
    return true;
  }

  /** A fresh entry id (ids count up to the most entries ever cached at once, at most kvBlocks). */
  private newId(): number {
    const e = this.size;
    if (e === this.keyOf.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.keyOf = grow(this.keyOf);
      this.refsOf = grow(this.refsOf);
      this.prev = grow(this.prev);
      this.next = grow(this.next);
    }
    return e;
  }

  private append(e: number): void {
    this.prev[e] = this.tail;
    this.next[e] = NONE;
    if (this.tail !== NONE) this.next[this.tail] = e;
    else this.head = e;
    this.tail = e;
    this.evictable++;
  }

  private unlink(e: number): void {
    const p = this.prev[e];
    const n = this.next[e];
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
    this.evictable--;
  }
}
