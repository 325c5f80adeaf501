// Requests in flight: the slot table, the per-replica waiting queues and running lists.
// Twin of the waiting/running arrays of src/sim/cpu/simulator.ts (insertSorted, shift, pop).
//
// Both queues order requests by (key, request index) ascending (the running list by admission for
// schedulers whose running_appends() holds). The running list is intrusive and
// doubly linked (LINKS = next << 16 | prev), because scheduling walks it in order and preemption
// takes its tail. The waiting queue is only ever inserted into and popped at its head, so it is a
// skew heap (LINKS = left << 16 | right): an insert or pop walks O(log n) nodes (amortised) instead
// of scanning a sorted list, and pops come out in exactly the sorted list's order because the
// order is total. Links are slot + 1, NIL (0) meaning none.

const NIL: u32 = 0u;
const REC_HOT: u32 = 0u; // (LINKS, CTX_FLAGS, PREFILL_LEFT, OUTPUT_LEFT)
const REC_ID: u32 = 1u; // (INDEX, KEY, FIRST_TOKEN, LAST_TOKEN)
const REC_AUX: u32 = 2u; // (CHUNK, -, -, -), on pipelines with S_RECORDS > 2 (layout.ts)

// Flags, CTX_FLAGS >> 24.
const F_FIRST: u32 = 1u; // has produced its first token
const F_ADMITTED: u32 = 2u; // has been admitted once (queueing delay recorded)
const F_PREEMPTED: u32 = 4u; // has been preempted once
const F_BATCH_DECODE: u32 = 8u; // decodes in the batch in progress
const F_BATCH_PREFILL: u32 = 16u; // prefills a chunk in the batch in progress (already counted in CTX)
const F_RECENT: u32 = 32u; // its last token came at its replica's PREV_END (LAST_TOKEN is stale)
const F_BATCH_ADMITTED: u32 = 64u; // admitted by the batch in progress (lanes with prefix caching: batch order at its end)
const CTX_MASK: u32 = 0xffffffu;

fn ctx_of(h: vec4<u32>) -> u32 { return h.y & CTX_MASK; }
fn flags_of(h: vec4<u32>) -> u32 { return h.y >> 24u; }
fn with_ctx_flags(h: vec4<u32>, ctx: u32, flags: u32) -> vec4<u32> { return vec4<u32>(h.x, ctx | (flags << 24u), h.z, h.w); }
fn link_hi(h: vec4<u32>) -> u32 { return h.x >> 16u; }
fn link_lo(h: vec4<u32>) -> u32 { return h.x & 0xffffu; }
fn with_links(h: vec4<u32>, hi: u32, lo: u32) -> vec4<u32> { return vec4<u32>((hi << 16u) | lo, h.y, h.z, h.w); }

// A request's place in both queues, (key lo, key hi, request index), from its ID record: a scheduler
// with a u64 key (has_queue_key) has it computed from the trace row, the others store it in KEY.
// Walks compute the place of the request they insert once.
fn order_of(id: vec4<u32>) -> vec3<u32> {
  if (has_queue_key()) {
    let k = queue_key(id.x);
    return vec3<u32>(k.x, k.y, id.x);
  }
  return vec3<u32>(id.y, 0u, id.x);
}

// Place a before place b: key ascending, ties by request index.
fn precedes(a: vec3<u32>, b: vec3<u32>) -> bool {
  return a.y < b.y || (a.y == b.y && (a.x < b.x || (a.x == b.x && a.z < b.z)));
}

// ---- slot table: slots ever used (LS_HIGH), freed ones on a list through LINKS ----

// Slot + 1, or NIL when the table is full.
fn slot_alloc() -> u32 {
  let f = free_head;
  if (f != NIL) {
    free_head = link_hi(slot_rec(REC_HOT, f - 1u));
    return f;
  }
  if (high >= U.slots) { return NIL; }
  high += 1u;
  return high;
}

// No flags are left (rebase() keeps the times of slots with F_FIRST only).
fn slot_free(s: u32) {
  slot_put(REC_HOT, s, vec4<u32>(free_head << 16u, 0u, 0u, 0u));
  free_head = s + 1u;
}

// ---- the open replica's waiting heap ----

// Merges two heaps given by their roots; returns the merged root. Top-down skew heap merge: the
// smaller root stays on top, its right subtree merges with the other heap, and its children swap.
fn heap_merge(x: u32, y: u32) -> u32 {
  if (x == NIL) { return y; }
  if (y == NIL) { return x; }
  var a = x;
  var b = y;
  var b_place = order_of(slot_rec(REC_ID, y - 1u));
  let x_place = order_of(slot_rec(REC_ID, x - 1u));
  if (precedes(b_place, x_place)) {
    a = y;
    b = x;
    b_place = x_place;
  }
  let root = a;
  loop {
    tick();
    count(W_VISITS, 1u);
    let h = slot_rec(REC_HOT, a - 1u);
    let left = link_hi(h);
    let right = link_lo(h);
    if (right == NIL) {
      slot_put(REC_HOT, a - 1u, with_links(h, b, left));
      break;
    }
    let right_place = order_of(slot_rec(REC_ID, right - 1u));
    if (precedes(right_place, b_place)) {
      slot_put(REC_HOT, a - 1u, with_links(h, right, left));
      a = right;
    } else {
      slot_put(REC_HOT, a - 1u, with_links(h, b, left));
      a = b;
      b = right;
      b_place = right_place;
    }
  }
  return root;
}

// Queues slot s, whose hot record is h (its links are reset here).
fn waiting_insert(s: u32, h: vec4<u32>) {
  slot_put(REC_HOT, s, with_links(h, NIL, NIL));
  rep.w_root = heap_merge(rep.w_root, s + 1u);
  rep.waiting += 1u;
}

// Removes the head (slot rep.w_root - 1, hot record h) from the waiting queue.
fn waiting_pop(h: vec4<u32>) {
  rep.w_root = heap_merge(link_hi(h), link_lo(h));
  rep.waiting -= 1u;
}

// ---- the open replica's running list ----

// Inserts slot s (hot record h, ID record id) in order, or at the tail when running_appends(); returns h with its links set (the caller stores it).
fn running_insert(s: u32, h: vec4<u32>, id: vec4<u32>) -> vec4<u32> {
  var m = rep.r_tail;
  if (!running_appends()) {
    // Scan from the tail: newly admitted requests mostly belong near the end.
    let place = order_of(id);
    loop {
      tick();
      if (m == NIL) { break; }
      count(W_VISITS, 1u);
      if (precedes(order_of(slot_rec(REC_ID, m - 1u)), place)) { break; }
      m = link_lo(slot_rec(REC_HOT, m - 1u));
    }
  }
  var n: u32;
  if (m == NIL) {
    n = rep.r_head;
    rep.r_head = s + 1u;
  } else {
    let mh = slot_rec(REC_HOT, m - 1u);
    n = link_hi(mh);
    slot_put(REC_HOT, m - 1u, with_links(mh, s + 1u, link_lo(mh)));
  }
  if (n == NIL) {
    rep.r_tail = s + 1u;
  } else {
    let nh = slot_rec(REC_HOT, n - 1u);
    slot_put(REC_HOT, n - 1u, with_links(nh, link_hi(nh), s + 1u));
  }
  rep.running += 1u;
  return with_links(h, n, m);
}

// Unlinks slot s (hot record h) from the running list and counts it off.
fn running_remove(s: u32, h: vec4<u32>) {
  running_unlink(s, h);
  rep.running -= 1u;
}

// Unlinks slot s (hot record h) from the running list (a request settled as completed, already
// counted off by finish_iteration).
fn running_unlink(s: u32, h: vec4<u32>) {
  let p = link_lo(h);
  let n = link_hi(h);
  if (p == NIL) {
    rep.r_head = n;
  } else {
    let ph = slot_rec(REC_HOT, p - 1u);
    slot_put(REC_HOT, p - 1u, with_links(ph, n, link_lo(ph)));
  }
  if (n == NIL) {
    rep.r_tail = p;
  } else {
    let nh = slot_rec(REC_HOT, n - 1u);
    slot_put(REC_HOT, n - 1u, with_links(nh, link_hi(nh), p));
  }
}
