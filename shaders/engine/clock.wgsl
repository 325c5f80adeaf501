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
// instant, the first-iteration end of batches in progress, first and last token times of requests
// in flight) and returns it; stops the lane when an old request in flight allows less than 2^30 µs.
// Called rarely: once the clock passes 2^31 µs after BASE.
fn rebase(now: u32) -> u32 {
  var d = now;
  tick(); // loop entry (gallivm counts it too)
  for (var r = 0u; r < cfg.replicas; r++) {
    tick();
    if (rep_rec(0u, r).x != 0u) { d = min(d, rep_get(R_FIRST_END, r)); }
  }
  let high = lane_get(LS_HIGH);
  tick();
  for (var s = 0u; s < high; s++) {
    tick();
    if ((slot_get(S_FLAGS, s) & F_FIRST) != 0u) { d = min(d, slot_get(S_FIRST_TOKEN, s)); }
  }
  if (d < 0x40000000u) {
    stop(ST_REBASE);
    return 0u;
  }
  tick();
  for (var r = 0u; r < cfg.replicas; r++) {
    tick();
    var r0 = rep_rec(0u, r);
    if (r0.x != 0u) {
      r0.y -= d;
      rep_put(0u, r, r0);
      rep_set(R_FIRST_END, r, rep_get(R_FIRST_END, r) - d);
    }
  }
  tick();
  for (var s = 0u; s < high; s++) {
    tick();
    if ((slot_get(S_FLAGS, s) & F_FIRST) != 0u) {
      var b = slot_rec(REC_B, s);
      b.z -= d;
      b.w -= d;
      slot_put(REC_B, s, b);
    }
  }
  BASE = add64(BASE, vec2<u32>(d, 0u));
  return d;
}
