// Lane time. Times in state are u32 microseconds after BASE (a per-lane u64 origin), which
// rebase() moves forward before they could overflow; trace arrivals are absolute u64 and are only
// ever used relative to BASE or to a lane time. Twin of the double-precision clock of simulator.ts.

var<private> BASE: vec2<u32>;
const FAR: u32 = 0xffffffffu; // "not within u32 of BASE"; no event time reaches it

// Arrival i as a lane time (i has not arrived yet, so it is at or after BASE), FAR if out of range.
fn arrival_time(i: u32) -> u32 {
  let d = sub64(trace_arrival(i), BASE);
  return select(FAR, d.x, d.y == 0u && d.x != FAR);
}

// Lane time t minus request i's arrival; the arrival may lie before BASE.
fn since_arrival(i: u32, t: u32) -> u32 {
  let d = sub64(add64(BASE, vec2<u32>(t, 0u)), trace_arrival(i));
  if (d.y != 0u) { stop(ST_CLOCK); }
  return d.x;
}

// Moves BASE forward by the largest span that keeps every stored time non-negative (the current
// instant, the ends and first-iteration ends of batches in progress, first and last token times of
// requests in flight) and returns it; stops the lane when an old request in flight allows less
// than 2^30 µs. Called rarely: once the clock passes 2^31 µs after BASE. Only busy replicas hold
// times that matter: an idle replica has no running request, hence none whose last token is its
// PREV_END.
fn rebase(now: u32) -> u32 {
  var d = now;
  // Replicas whose ended batch is not settled yet hold times too (FIRST_END, PREV_END).
  let holders = busy_mask | pending_mask;
  var r = mask_next(holders, 0u);
  loop {
    tick();
    if (r == NONE) { break; }
    d = min(d, rep_get(R_FIRST_END, r));
    r = mask_next(holders, r + 1u);
  }
  tick(); // loop entry (gallivm counts it too)
  for (var s = 0u; s < high; s++) {
    tick();
    let h = slot_rec(REC_HOT, s);
    if ((flags_of(h) & F_FIRST) != 0u) { d = min(d, slot_rec(REC_ID, s).z); }
    // A request in flight (a free slot has no output left) whose key is its queueing time.
    if (time_keys() && h.w > 0u) { d = min(d, slot_rec(REC_ID, s).y); }
  }
  if (d < 0x40000000u) {
    stop(ST_REBASE);
    return 0u;
  }
  r = mask_next(holders, 0u);
  loop {
    tick();
    if (r == NONE) { break; }
    if (mask_has(busy_mask, r)) { set_end(r, end_of(r) - d); }
    rep_set(R_FIRST_END, r, rep_get(R_FIRST_END, r) - d);
    let prev_end = rep_get(R_PREV_END, r);
    rep_set(R_PREV_END, r, max(prev_end, d) - d);
    r = mask_next(holders, r + 1u);
  }
  tick();
  for (var s = 0u; s < high; s++) {
    tick();
    let h = slot_rec(REC_HOT, s);
    let flags = flags_of(h);
    let keyed = time_keys() && h.w > 0u;
    if ((flags & F_FIRST) != 0u || keyed) {
      var id = slot_rec(REC_ID, s);
      if ((flags & F_FIRST) != 0u) {
        id.z -= d;
        // LAST_TOKEN is stale under F_RECENT (PREV_END holds it).
        if ((flags & F_RECENT) == 0u) { id.w -= d; }
      }
      if (keyed) { id.y -= d; }
      slot_put(REC_ID, s, id);
    }
  }
  BASE = add64(BASE, vec2<u32>(d, 0u));
  return d;
}
