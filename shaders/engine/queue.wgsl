// Requests in flight: the slot table and the per-replica waiting and running lists.
// Twin of the waiting/running arrays in src/sim/cpu/simulator.ts (insertSorted, shift, pop).
//
// Lists are intrusive and doubly linked through slot record C (NEXT, PREV), sorted by
// (key, request index) ascending; links are slot + 1 so that NIL (0) means none.

const NIL: u32 = 0u;
const REC_A: u32 = 0u; // (INDEX, KEY, CTX, GENERATED)
const REC_B: u32 = 1u; // (PREFILL_TARGET, BLOCKS, FIRST_TOKEN, LAST_TOKEN)
const REC_C: u32 = 2u; // (FLAGS, BATCH_TOKENS, NEXT, PREV)

// Slot flags.
const F_FIRST: u32 = 1u; // has produced its first token
const F_ADMITTED: u32 = 2u; // has been admitted once (queueing delay recorded)
const F_PREEMPTED: u32 = 4u; // has been preempted once
const F_PRODUCES: u32 = 8u; // produces a token at the end of the batch in progress

fn list_insert(r: u32, head_f: u32, tail_f: u32, count_f: u32, s: u32) {
  let a = slot_rec(REC_A, s);
  let key = a.y;
  let idx = a.x;
  // Scan from the tail: new and re-queued requests mostly belong near the end.
  var m = rep_get(tail_f, r);
  loop {
    tick();
    if (m == NIL) { break; }
    count(W_VISITS, 1u);
    let ma = slot_rec(REC_A, m - 1u);
    if (ma.y < key || (ma.y == key && ma.x < idx)) { break; }
    m = slot_get(S_PREV, m - 1u);
  }
  var n: u32;
  if (m == NIL) {
    n = rep_get(head_f, r);
    rep_set(head_f, r, s + 1u);
  } else {
    n = slot_get(S_NEXT, m - 1u);
    slot_set(S_NEXT, m - 1u, s + 1u);
  }
  slot_set(S_PREV, s, m);
  slot_set(S_NEXT, s, n);
  if (n == NIL) { rep_set(tail_f, r, s + 1u); } else { slot_set(S_PREV, n - 1u, s + 1u); }
  rep_set(count_f, r, rep_get(count_f, r) + 1u);
}

fn list_remove(r: u32, head_f: u32, tail_f: u32, count_f: u32, s: u32) {
  let p = slot_get(S_PREV, s);
  let n = slot_get(S_NEXT, s);
  if (p == NIL) { rep_set(head_f, r, n); } else { slot_set(S_NEXT, p - 1u, n); }
  if (n == NIL) { rep_set(tail_f, r, p); } else { slot_set(S_PREV, n - 1u, p); }
  rep_set(count_f, r, rep_get(count_f, r) - 1u);
}

fn waiting_insert(r: u32, s: u32) { list_insert(r, R_W_HEAD, R_W_TAIL, R_WAITING, s); }
fn waiting_remove(r: u32, s: u32) { list_remove(r, R_W_HEAD, R_W_TAIL, R_WAITING, s); }
fn running_insert(r: u32, s: u32) { list_insert(r, R_R_HEAD, R_R_TAIL, R_RUNNING, s); }
fn running_remove(r: u32, s: u32) { list_remove(r, R_R_HEAD, R_R_TAIL, R_RUNNING, s); }

// Slot + 1, or NIL when the table is full.
fn slot_alloc() -> u32 {
  let f = lane_get(LS_FREE);
  if (f > 0u) {
    lane_set(LS_FREE, f - 1u);
    return slot_get(S_FREE_STACK, f - 1u) + 1u;
  }
  let h = lane_get(LS_HIGH);
  if (h >= SLOTS) { return NIL; }
  lane_set(LS_HIGH, h + 1u);
  return h + 1u;
}

fn slot_free(s: u32) {
  slot_set(S_FLAGS, s, 0u); // a free slot holds no time for rebase() to keep
  let f = lane_get(LS_FREE);
  slot_set(S_FREE_STACK, f, s);
  lane_set(LS_FREE, f + 1u);
}
