// What the prefix routers (prefix-affinity, prefix-score) share: twin of prefix-index.ts
// (PrefixIndex) and of src/sim/cpu/view-snapshot.ts (ViewSnapshot, the fields they read). compose.ts
// adds this file only to pipelines holding such a router.
//
// The router's memory is a region of the lane's `cache` binding after its prefix caches (layout.ts
// prefixRouterWords, engine.ts laneRouterWords), zero-filled = empty: a header (the next refresh
// instant, u64), the snapshot (used blocks, outstanding per replica), then per replica an index of
// `capacity` chain ids: a header (LRU list head and tail as entry + 1, entries), an open-addressing
// table of a power of two at least twice `capacity` slots (entry + 1, 0 empty; linear probing,
// deletion by backward shift), and `capacity` entries (chain id, list links). Which slot or entry
// holds a chain id never reaches a decision: only which ids are remembered and their LRU order do.

// The lane's PARAMS.PREFIX_ROUTER, read at each routing (prefix_route_begin).
struct PrefixRouterConfig {
  units: u32, // trace word of the request -> first chain id table, or NO_PREFIX_UNITS
  unit_tokens: u32,
  capacity: u32, // chain ids remembered per replica (PrefixIndex.capacity)
  mask: u32, // index table slots - 1
  base: u32, // first word of the router's memory in the lane's cache region
  refresh_us: u32, // snapshot period, 0: live views
  index_words: u32, // words of one replica's index
}
var<private> pr: PrefixRouterConfig;

fn pr_get(w: u32) -> u32 { count_load(); return cache[ix(pr.base + w, U.cache_stride)]; }
fn pr_set(w: u32, v: u32) { count_store(); cache[ix(pr.base + w, U.cache_stride)] = v; }

// Loads the lane's router parameters and brings the snapshot up to date for request i's routing.
fn prefix_route_begin(i: u32) {
  let a = param_rec(P_PREFIX_ROUTER / 4u);
  let b = param_rec(P_PREFIX_ROUTER / 4u + 1u);
  pr = PrefixRouterConfig(a.x, a.y, a.z, a.w, b.x, b.y, b.z);
  if (pr.refresh_us > 0u) { refresh_views(i); }
}

// ---- stale views (ViewSnapshot.at) ----

// a mod p, by shifting a's low word in one bit at a time (no u64 divide in WGSL).
fn mod64x32(a: vec2<u32>, p: u32) -> u32 {
  var rem = a.y % p;
  tick(); // loop entry
  for (var bit = 32u; bit > 0u; bit--) {
    tick();
    // 2 rem + next bit < 2p: one subtraction, exact even where the shift wraps u32.
    let top = rem >= 0x80000000u;
    rem = (rem << 1u) | ((a.x >> (bit - 1u)) & 1u);
    if (top || rem >= p) { rem -= p; }
  }
  return rem;
}

// At the first routing instant of a refresh period (request i's arrival at or past the next
// refresh), the snapshot takes the live views, before i is routed; the next refresh is the start of
// the following period, floor(now / P) x P + P.
fn refresh_views(i: u32) {
  let now = trace_arrival(i);
  if (less64(now, vec2<u32>(pr_get(0u), pr_get(1u)))) { return; }
  tick(); // loop entry
  for (var r = 0u; r < cfg.replicas; r++) {
    tick();
    let v = replica_view(r);
    pr_set(ROUTER_HEADER_WORDS + ROUTER_VIEW_WORDS * r, v.used_blocks);
    pr_set(ROUTER_HEADER_WORDS + ROUTER_VIEW_WORDS * r + 1u, v.outstanding);
  }
  let next = add64(sub64(now, vec2<u32>(mod64x32(now, pr.refresh_us), 0u)), vec2<u32>(pr.refresh_us, 0u));
  pr_set(0u, next.x);
  pr_set(1u, next.y);
}

// Replica r's views as the router sees them: live, or the snapshot's.
fn prefix_view(r: u32) -> ReplicaView {
  if (pr.refresh_us == 0u) { return replica_view(r); }
  let w = ROUTER_HEADER_WORDS + ROUTER_VIEW_WORDS * r;
  return ReplicaView(pr_get(w), pr_get(w + 1u));
}

// The fewest and most outstanding requests on any replica (outstandingRange).
fn prefix_outstanding_range() -> vec2<u32> {
  var range = vec2<u32>(prefix_view(0u).outstanding);
  tick(); // loop entry
  for (var r = 1u; r < cfg.replicas; r++) {
    tick();
    let o = prefix_view(r).outstanding;
    range = vec2<u32>(min(range.x, o), max(range.y, o));
  }
  return range;
}

// floor(1000 n / d) for n <= d, d > 0: in u32 while 1000 n fits, else bit by bit (the quotient is at most 1000).
fn per_mille(n: u32, d: u32) -> u32 {
  if (n <= 0xffffffffu / 1000u) { return 1000u * n / d; }
  let a = mul32x32(n, 1000u);
  var q = 0u;
  tick(); // loop entry
  for (var bit = 10u; bit > 0u; bit--) {
    tick();
    let t = q | (1u << (bit - 1u));
    if (!less64(a, mul32x32(t, d))) { q = t; }
  }
  return q;
}

// ---- request i's prefix units (the trace buffer's chain ids, engine.ts TraceBuffer.placeUnits) ----

// Trace word of request i's first chain id, and its unit count; no units on a trace without hashes.
fn request_units(i: u32) -> vec2<u32> {
  if (pr.units == NO_PREFIX_UNITS) { return vec2<u32>(0u); }
  count_loads(2u);
  let first = trace[pr.units + i];
  return vec2<u32>(first, trace[pr.units + i + 1u] - first);
}
fn unit_chain(units: vec2<u32>, u: u32) -> u32 { count_load(); return trace[units.x + u]; }

// ---- replica r's index ----

fn index_word(r: u32, w: u32) -> u32 { return ROUTER_HEADER_WORDS + ROUTER_VIEW_WORDS * cfg.replicas + r * pr.index_words + w; }
fn index_get(r: u32, w: u32) -> u32 { return pr_get(index_word(r, w)); }
fn index_set(r: u32, w: u32, v: u32) { pr_set(index_word(r, w), v); }
fn index_table(p: u32) -> u32 { return INDEX_HEADER_WORDS + p; }
fn index_entry(e: u32, field: u32) -> u32 { return INDEX_HEADER_WORDS + pr.mask + 1u + INDEX_ENTRY_WORDS * e + field; }

fn chain_home(chain: u32) -> u32 {
  var x = chain * 0x9e3779b1u;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  return x & pr.mask;
}

// The empty table slot where index_find's last miss stopped: where its chain id is added.
var<private> index_probe_end: u32;

// Replica r's entry for chain id `chain`, or NONE.
fn index_find(r: u32, chain: u32) -> u32 {
  var p = chain_home(chain);
  tick(); // loop entry
  loop {
    tick();
    let t = index_get(r, index_table(p));
    if (t == 0u) {
      index_probe_end = p;
      return NONE;
    }
    if (index_get(r, index_entry(t - 1u, IE_CHAIN)) == chain) { return t - 1u; }
    p = (p + 1u) & pr.mask;
  }
}

// Removes entry e's chain id from the table, shifting back the ids probed past it (cache.wgsl table_delete).
fn index_table_delete(r: u32, e: u32) {
  var p = chain_home(index_get(r, index_entry(e, IE_CHAIN)));
  tick(); // loop entry
  loop {
    tick();
    if (index_get(r, index_table(p)) == e + 1u) { break; }
    p = (p + 1u) & pr.mask;
  }
  var q = (p + 1u) & pr.mask;
  tick(); // loop entry
  loop {
    tick();
    let t = index_get(r, index_table(q));
    if (t == 0u) { break; }
    let home = chain_home(index_get(r, index_entry(t - 1u, IE_CHAIN)));
    // The id at q may move into the hole at p if its home is not cyclically in (p, q].
    if (((q - home) & pr.mask) >= ((q - p) & pr.mask)) {
      index_set(r, index_table(p), t);
      p = q;
    }
    q = (q + 1u) & pr.mask;
  }
  index_set(r, index_table(p), 0u);
}

// The LRU list, least recently touched first.
fn index_append(r: u32, e: u32) {
  let tail = index_get(r, IH_TAIL);
  index_set(r, index_entry(e, IE_PREV), tail);
  index_set(r, index_entry(e, IE_NEXT), 0u);
  if (tail != 0u) { index_set(r, index_entry(tail - 1u, IE_NEXT), e + 1u); } else { index_set(r, IH_HEAD, e + 1u); }
  index_set(r, IH_TAIL, e + 1u);
}
fn index_unlink(r: u32, e: u32) {
  let p = index_get(r, index_entry(e, IE_PREV));
  let n = index_get(r, index_entry(e, IE_NEXT));
  if (p != 0u) { index_set(r, index_entry(p - 1u, IE_NEXT), n); } else { index_set(r, IH_HEAD, n); }
  if (n != 0u) { index_set(r, index_entry(n - 1u, IE_PREV), p); } else { index_set(r, IH_TAIL, p); }
}

// Chain ids remembered on replica r (PrefixIndex.size).
fn index_size(r: u32) -> u32 {
  if (pr.units == NO_PREFIX_UNITS) { return 0u; }
  return index_get(r, IH_SIZE);
}

// Leading units of `units` remembered on replica r (PrefixIndex.match): a binary search, since the
// remembered ids are prefix-closed (a unit's parent is touched after it, so evicted after it).
fn index_match(r: u32, units: vec2<u32>) -> u32 {
  var lo = 0u;
  var hi = units.y;
  tick(); // loop entry
  loop {
    tick();
    if (lo >= hi) { break; }
    let mid = (lo + hi + 1u) / 2u;
    if (index_find(r, unit_chain(units, mid - 1u)) != NONE) { lo = mid; } else { hi = mid - 1u; }
  }
  return lo;
}

// Touches chain id `chain` on replica r: the most recent; a new one takes the least recently
// touched one's entry once `capacity` are remembered. Evicting at once, before the insertion, leaves
// the ids record() leaves: the `capacity` most recently touched.
fn index_touch(r: u32, chain: u32) {
  let found = index_find(r, chain);
  if (found != NONE) {
    if (index_get(r, IH_TAIL) != found + 1u) {
      index_unlink(r, found);
      index_append(r, found);
    }
    return;
  }
  var e = index_get(r, IH_SIZE);
  if (e == pr.capacity) {
    e = index_get(r, IH_HEAD) - 1u;
    index_unlink(r, e);
    index_table_delete(r, e);
    _ = index_find(r, chain); // the empty slot it takes after the shift
  } else {
    index_set(r, IH_SIZE, e + 1u);
  }
  index_set(r, index_entry(e, IE_CHAIN), chain);
  index_set(r, index_table(index_probe_end), e + 1u);
  index_append(r, e);
}

// Request i's units were routed to replica r (PrefixIndex.record): touched deepest first.
fn index_record(r: u32, units: vec2<u32>) {
  tick(); // loop entry
  for (var u = units.y; u > 0u; u--) {
    tick();
    index_touch(r, unit_chain(units, u - 1u));
  }
}
