// The prefix cache of each replica (docs/semantics.md "Prefix caching"): twin of
// src/sim/cpu/prefix-cache.ts. Only pipelines holding a caching lane compile it in (CACHING); on
// lanes with caching off (prefix.units == NO_PREFIX_CACHE) nothing here runs.
//
// A replica's region of the `cache` binding, in u32 words (layout.ts CACHE_*), sized per lane by
// the host (engine.ts cacheRegionWords): a header, an open-addressing table of mask + 1 words
// (entry id + 1, 0 empty; linear probing, deletion by backward shift), and kvBlocks entries of
// CACHE_ENTRY_WORDS (chain id, block index, references, evictable-list links). Entries never exceed
// kvBlocks (each is a KV block), so the table is at most half full and never overflows. List links
// and ids on the free-id list are id + 1 (0: none), so a zero-filled region is an empty cache.
// Which table slot or entry id holds a key never reaches a record: only which keys are cached,
// their references and the order of the evictable list do.

@group(0) @binding(8) var<storage, read_write> cache: array<u32>;

// The lane's prefix-cache parameters (PARAMS.PREFIX), read by load_config in CACHING pipelines.
struct PrefixConfig {
  units: u32, // trace word of the request -> first chain id table, or NO_PREFIX_CACHE
  unit_tokens: u32, // tokens per prefix unit (the trace's hash block)
  mask: u32, // table slots - 1
  region: u32, // words of one replica's region
}
var<private> prefix: PrefixConfig;
// Bumped by every change of any replica's cache, so that a lookup is reused until the next one.
var<private> cache_version: u32;

fn lane_caches() -> bool { return CACHING && prefix.units != NO_PREFIX_CACHE; }

fn cache_ix(r: u32, w: u32) -> u32 { return ix(r * prefix.region + w, U.cache_stride); }
fn cache_get(r: u32, w: u32) -> u32 { count_load(); return cache[cache_ix(r, w)]; }
fn cache_set(r: u32, w: u32, v: u32) { count_store(); cache[cache_ix(r, w)] = v; }
fn table_word(p: u32) -> u32 { return CACHE_HEADER_WORDS + p; }
fn entry_word(e: u32, field: u32) -> u32 { return CACHE_HEADER_WORDS + prefix.mask + 1u + CACHE_ENTRY_WORDS * e + field; }

// ---- block keys (src/sim/prefix-units.ts BlockKeys) ----

// Full prompt blocks of request i covered by its prefix units: floor(min(prompt, units x H) / bs).
fn cacheable_blocks(i: u32) -> u32 {
  count_loads(2u);
  let units = trace[prefix.units + i + 1u] - trace[prefix.units + i];
  let prompt = trace_prompt(i);
  // units x H >= prompt exactly when units >= ceil(prompt / H): no product that could wrap.
  var covered = prompt;
  if (units < ceil_div(prompt, prefix.unit_tokens)) { covered = units * prefix.unit_tokens; }
  return covered / cfg.block_size;
}

// The chain id of block b of request i: that of the unit holding its last token.
fn block_chain(i: u32, b: u32) -> u32 {
  count_loads(2u);
  return trace[trace[prefix.units + i] + ((b + 1u) * cfg.block_size - 1u) / prefix.unit_tokens];
}

fn key_home(chain: u32, b: u32) -> u32 {
  var x = (chain * 0x9e3779b1u) ^ ((b + 0x7f4a7c15u) * 0x85ebca77u);
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  return x & prefix.mask;
}

// ---- the table ----

// The empty table slot where cache_find's last miss stopped: where its key is added.
var<private> probe_end: u32;

// Replica r's entry for key (chain, b), or NONE.
fn cache_find(r: u32, chain: u32, b: u32) -> u32 {
  var p = key_home(chain, b);
  tick(); // loop entry
  loop {
    tick();
    let t = cache_get(r, table_word(p));
    if (t == 0u) {
      probe_end = p;
      return NONE;
    }
    let e = t - 1u;
    if (cache_get(r, entry_word(e, CE_CHAIN)) == chain && cache_get(r, entry_word(e, CE_BLOCK)) == b) { return e; }
    p = (p + 1u) & prefix.mask;
  }
}

// Removes entry e's key, shifting back the keys probed past it (key-table.ts delete).
fn table_delete(r: u32, e: u32) {
  var p = key_home(cache_get(r, entry_word(e, CE_CHAIN)), cache_get(r, entry_word(e, CE_BLOCK)));
  tick(); // loop entry
  loop {
    tick();
    if (cache_get(r, table_word(p)) == e + 1u) { break; }
    p = (p + 1u) & prefix.mask;
  }
  var q = (p + 1u) & prefix.mask;
  tick(); // loop entry
  loop {
    tick();
    let t = cache_get(r, table_word(q));
    if (t == 0u) { break; }
    let home = key_home(cache_get(r, entry_word(t - 1u, CE_CHAIN)), cache_get(r, entry_word(t - 1u, CE_BLOCK)));
    // The key at q may move into the hole at p if its home is not cyclically in (p, q].
    if (((q - home) & prefix.mask) >= ((q - p) & prefix.mask)) {
      cache_set(r, table_word(p), t);
      p = q;
    }
    q = (q + 1u) & prefix.mask;
  }
  cache_set(r, table_word(p), 0u);
}

// ---- the evictable list (references 0), least recently released first ----

fn list_append(r: u32, e: u32) {
  let tail = cache_get(r, CH_TAIL);
  cache_set(r, entry_word(e, CE_PREV), tail);
  cache_set(r, entry_word(e, CE_NEXT), 0u);
  if (tail != 0u) { cache_set(r, entry_word(tail - 1u, CE_NEXT), e + 1u); } else { cache_set(r, CH_HEAD, e + 1u); }
  cache_set(r, CH_TAIL, e + 1u);
  cache_set(r, CH_EVICTABLE, cache_get(r, CH_EVICTABLE) + 1u);
}

fn list_unlink(r: u32, e: u32) {
  let p = cache_get(r, entry_word(e, CE_PREV));
  let n = cache_get(r, entry_word(e, CE_NEXT));
  if (p != 0u) { cache_set(r, entry_word(p - 1u, CE_NEXT), n); } else { cache_set(r, CH_HEAD, n); }
  if (n != 0u) { cache_set(r, entry_word(n - 1u, CE_PREV), p); } else { cache_set(r, CH_TAIL, p); }
  cache_set(r, CH_EVICTABLE, cache_get(r, CH_EVICTABLE) - 1u);
}

// ---- the cache's operations (PrefixCache) ----

// Adds a reference to entry e; true if it came off the evictable list.
fn entry_ref(r: u32, e: u32) -> bool {
  let refs = cache_get(r, entry_word(e, CE_REFS));
  cache_set(r, entry_word(e, CE_REFS), refs + 1u);
  if (refs > 0u) { return false; }
  list_unlink(r, e);
  return true;
}

// Request i takes a reference to its first n blocks (all cached); returns how many were evictable.
fn cache_acquire(r: u32, i: u32, n: u32) -> u32 {
  var revived = 0u;
  tick(); // loop entry
  for (var b = 0u; b < n; b++) {
    tick();
    if (entry_ref(r, cache_find(r, block_chain(i, b), b))) { revived += 1u; }
  }
  cache_version += 1u;
  return revived;
}

// Request i drops its references to its first n blocks, the deepest first; returns how many
// entries became evictable.
fn cache_release(r: u32, i: u32, n: u32) -> u32 {
  var freed = 0u;
  tick(); // loop entry
  for (var b = n; b > 0u; b--) {
    tick();
    let e = cache_find(r, block_chain(i, b - 1u), b - 1u);
    let refs = cache_get(r, entry_word(e, CE_REFS)) - 1u;
    cache_set(r, entry_word(e, CE_REFS), refs);
    if (refs == 0u) {
      list_append(r, e);
      freed += 1u;
    }
  }
  cache_version += 1u;
  return freed;
}

// Block b of request i, just computed, joins the cache (i holds blocks 0..b-1): a new entry held by
// i (false), or i shares an equal entry and its own copy is freed (true: the caller frees a block
// when that entry was in use; reviving an evictable one moves it from free to in use).
const INSERTED_NEW: u32 = 0u;
const INSERTED_SHARED_IN_USE: u32 = 1u;
const INSERTED_SHARED_REVIVED: u32 = 2u;
fn cache_insert(r: u32, i: u32, b: u32) -> u32 {
  let chain = block_chain(i, b);
  let found = cache_find(r, chain, b);
  cache_version += 1u;
  if (found != NONE) { return select(INSERTED_SHARED_IN_USE, INSERTED_SHARED_REVIVED, entry_ref(r, found)); }
  var e = cache_get(r, CH_FREE_IDS);
  if (e != 0u) {
    e -= 1u;
    cache_set(r, CH_FREE_IDS, cache_get(r, entry_word(e, CE_NEXT)));
  } else {
    e = cache_get(r, CH_NEXT_ID);
    cache_set(r, CH_NEXT_ID, e + 1u);
  }
  cache_set(r, entry_word(e, CE_CHAIN), chain);
  cache_set(r, entry_word(e, CE_BLOCK), b);
  cache_set(r, entry_word(e, CE_REFS), 1u);
  cache_set(r, table_word(probe_end), e + 1u); // where the miss above stopped
  return INSERTED_NEW;
}

// Evicts least recently released entries while more than `room` are evictable (room: the free
// blocks left for them), counting them.
fn cache_evict_to(r: u32, room: u32) {
  var evictable = cache_get(r, CH_EVICTABLE);
  if (evictable <= room) { return; }
  cnt_add(C_PREFIX_EVICTED_BLOCKS, evictable - room);
  tick(); // loop entry
  loop {
    tick();
    if (evictable <= room) { break; }
    let e = cache_get(r, CH_HEAD) - 1u;
    list_unlink(r, e);
    table_delete(r, e);
    cache_set(r, entry_word(e, CE_NEXT), cache_get(r, CH_FREE_IDS));
    cache_set(r, CH_FREE_IDS, e + 1u);
    evictable -= 1u;
  }
  cache_version += 1u;
}

// Largest m <= n such that request i's blocks 0..m-1 are cached on replica r (held: and referenced),
// given that this holds for a prefix of them (prefix closure): a binary search.
fn cache_leading(r: u32, i: u32, n: u32, held: bool) -> u32 {
  var lo = 0u;
  var hi = n;
  tick(); // loop entry
  loop {
    tick();
    if (lo >= hi) { break; }
    let mid = (lo + hi + 1u) / 2u;
    let e = cache_find(r, block_chain(i, mid - 1u), mid - 1u);
    var has = e != NONE;
    if (held && has) { has = cache_get(r, entry_word(e, CE_REFS)) > 0u; }
    if (has) { lo = mid; } else { hi = mid - 1u; }
  }
  return lo;
}

// The cached prefix of the open replica's waiting request s (hot record h, prefill target h.z):
// head_hit blocks, of which head_held are held by running requests (batch-context.ts lookup).
// 0 and 0 on lanes without caching. Reused while the cache and the request are unchanged.
var<private> head_hit: u32;
var<private> head_held: u32;
var<private> head_slot: u32; // slot + 1 of the last lookup (0: none)
var<private> head_version: u32;
fn head_lookup(s: u32, h: vec4<u32>) {
  if (!lane_caches()) {
    head_hit = 0u;
    head_held = 0u;
    return;
  }
  if (head_slot == s + 1u && head_version == cache_version) { return; }
  head_slot = s + 1u;
  head_version = cache_version;
  let i = slot_rec(REC_ID, s).x;
  let limit = min(cacheable_blocks(i), (h.z - 1u) / cfg.block_size);
  head_hit = cache_leading(rep_index, i, limit, false);
  head_held = cache_leading(rep_index, i, head_hit, true);
}

// Prompt tokens waiting request s (hot record h) prefills when it starts: all but its cached prefix.
fn head_prefill(s: u32, h: vec4<u32>) -> u32 {
  head_lookup(s, h);
  return h.z - head_hit * cfg.block_size;
}

// Blocks waiting request s takes to start with a first step of `tokens` tokens: its new blocks and
// the evictable entries of its cached prefix (blocksToAdd), after head_prefill.
fn head_blocks(tokens: u32) -> u32 {
  return head_hit + ceil_div(tokens, cfg.block_size) - head_held;
}

// ---- requests' cached blocks (the AUX record's CACHED word) ----

fn cached_blocks(s: u32) -> u32 { return slot_rec(REC_AUX, s).y; }

// Prompt blocks request s (trace index i, context ctx) computed by the end of the settled batch join
// the open replica's cache, in order (simulator.ts cacheComputedBlocks). One equal to a cached block
// is not kept twice: s shares the cached one and its own copy is freed.
fn cache_computed_blocks(s: u32, i: u32, ctx: u32) {
  let aux = slot_rec(REC_AUX, s);
  let full = min(cacheable_blocks(i), ctx / cfg.block_size);
  tick(); // loop entry
  for (var b = aux.y; b < full; b++) {
    tick();
    if (cache_insert(rep_index, i, b) == INSERTED_SHARED_IN_USE) { rep.used -= 1u; }
  }
  if (full > aux.y) { slot_put(REC_AUX, s, vec4<u32>(aux.x, full, aux.z, aux.w)); }
}

// Request s (trace index i) leaves the open replica's running list: it drops its cached blocks;
// returns how many of them became free (no other running request holds them).
fn cache_leave(s: u32, i: u32) -> u32 {
  let aux = slot_rec(REC_AUX, s);
  cache_version += 1u; // its lookup, if any, is stale
  if (aux.y == 0u) { return 0u; }
  slot_put(REC_AUX, s, vec4<u32>(aux.x, 0u, aux.z, aux.w));
  return cache_release(rep_index, i, aux.y);
}
