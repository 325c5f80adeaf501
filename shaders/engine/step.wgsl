// One event instant of a lane: iteration ends (by replica), arrivals (by request index), then idle
// replicas with work start an iteration. Twin of Simulation.run, arrive, startIteration,
// finishIteration and complete in src/sim/cpu/simulator.ts. `main` runs U.steps instants per lane.

fn arrive(i: u32) -> bool {
  let prompt = trace_prompt(i);
  let output = trace_output(i);
  if (prompt + output > cfg.max_model_len) {
    cnt_add(C_REJECTED_MAX_MODEL_LEN, 1u);
    return true;
  }
  if (ceil_div(prompt + output - 1u, cfg.block_size) > cfg.kv_blocks - cfg.watermark_blocks) {
    cnt_add(C_REJECTED_KV_CAPACITY, 1u);
    return true;
  }
  let r = route(i);
  lane_set(LS_ROUTED, lane_get(LS_ROUTED) + 1u);
  rep_set(R_OUTSTANDING, r, rep_get(R_OUTSTANDING, r) + 1u);
  // Its scheduler must see the new request at its next iteration: the fold ends where it is.
  if (rep_get(R_BUSY, r) == BUSY_OPEN) { rep_set(R_BUSY, r, BUSY); }
  let m = slot_alloc();
  if (m == NIL) {
    stop(ST_SLOTS);
    return false;
  }
  let s = m - 1u;
  slot_put(REC_A, s, vec4<u32>(i, priority_key(prompt, output, i), 0u, 0u));
  // FIRST_TOKEN and LAST_TOKEN are written before they are read (F_FIRST is clear); the links by waiting_insert.
  slot_put(REC_B, s, vec4<u32>(prompt, 0u, 0u, 0u));
  slot_put(REC_C, s, vec4<u32>(0u, 0u, 0u, 0u));
  waiting_insert(r, s);
  return true;
}

fn start_iteration(r: u32, now: u32, has_next: bool, next_arrival: u32) -> bool {
  batch_size = 0u;
  batch_prefill_tokens = 0u;
  batch_decodes = 0u;
  batch_context = 0u;
  let pure = build_batch(r, now);
  let n = batch_size;
  let context = batch_context;
  if (n == 0u) {
    stop(ST_INTERNAL);
    return false;
  }
  let first_us = iteration_us(batch_prefill_tokens, batch_decodes, context);
  record_iteration(r, first_us, 0u);
  let end = now + first_us;
  if (end < now || end == FAR) {
    stop(ST_CLOCK);
    return false;
  }
  rep_set(R_FIRST_END, r, end);
  rep_set(R_K, r, 1u);
  rep_set(R_END, r, end);
  rep_set(R_BUSY, r, BUSY);
  if (pure && FAST_FORWARD) { return start_fold(r, context, n, has_next, next_arrival); }
  return true;
}

fn complete(r: u32, s: u32, now: u32) {
  rep_set(R_USED, r, rep_get(R_USED, r) - slot_get(S_BLOCKS, s));
  slot_set(S_BLOCKS, s, 0u);
  rep_set(R_OUTSTANDING, r, rep_get(R_OUTSTANDING, r) - 1u);
  let i = slot_get(S_INDEX, s);
  let output = trace_output(i);
  let first = slot_get(S_FIRST_TOKEN, s);
  cnt_add(C_COMPLETED, 1u);
  cnt_add(C_OUTPUT_TOKENS, output);
  hadd(H_E2E, since_arrival(i, now), 1u);
  var tpot_ok = true;
  if (output > 1u) {
    let tpot = (now - first) / (output - 1u);
    hadd(H_TPOT, tpot, 1u);
    tpot_ok = tpot <= cfg.slo_tpot_us;
  }
  let ttft_ok = since_arrival(i, first) <= cfg.slo_ttft_us;
  if (ttft_ok) { cnt_add(C_TTFT_MET, 1u); }
  if (tpot_ok) { cnt_add(C_TPOT_MET, 1u); }
  if (ttft_ok && tpot_ok) { cnt_add(C_SLO_MET, 1u); }
  let t = add64(BASE, vec2<u32>(now, 0u));
  let w = 2u * C_MAKESPAN_US;
  if (t.y > cnt[w + 1u] || (t.y == cnt[w + 1u] && t.x > cnt[w])) {
    cnt[w] = t.x;
    cnt[w + 1u] = t.y;
  }
}

fn finish_iteration(r: u32, now: u32) {
  let k = rep_get(R_K, r);
  let first_end = rep_get(R_FIRST_END, r);
  // Batch members are exactly the running requests with BATCH_TOKENS > 0; order does not matter
  // here. The walk breaks out for each completion and resumes after it, so completion code runs
  // once per completed request rather than (masked, on llvmpipe) once per member.
  var m = rep_get(R_R_HEAD, r);
  loop {
    tick();
    var s = 0u;
    var done = false;
    loop {
      tick();
      if (m == NIL) { break; }
      count(W_VISITS, 1u);
      s = m - 1u;
      var c = slot_rec(REC_C, s);
      m = c.z;
      let tokens = c.y;
      if (tokens > 0u) {
        // Whole records: each load or store below is one per-lane loop on llvmpipe.
        var a = slot_rec(REC_A, s);
        var b = slot_rec(REC_B, s);
        c.y = 0u;
        a.z += tokens * k; // context
        if (k > 1u) { b.y = ceil_div(a.z, cfg.block_size); }
        let produces = (c.x & F_PRODUCES) != 0u;
        c.x &= ~F_PRODUCES;
        var generated = a.w;
        if (produces) {
          let i = a.x;
          // One histogram write for TTFT or ITL (one storage access pattern, not two).
          var h = H_ITL;
          var v = first_end - b.w;
          if ((c.x & F_FIRST) == 0u) {
            c.x |= F_FIRST;
            b.z = first_end;
            h = H_TTFT;
            v = since_arrival(i, first_end);
            hstat(H_TTFT, v, 1u);
          } else {
            hstat(H_ITL, v, 1u);
          }
          hist_bump(h, v, 1u);
          generated += k;
          a.w = generated;
          b.w = now;
        }
        slot_put(REC_A, s, a);
        slot_put(REC_B, s, b);
        slot_put(REC_C, s, c);
        if (produces && generated == trace_output(a.x)) {
          done = true;
          break;
        }
      }
    }
    if (!done) { break; }
    complete(r, s, now);
    running_remove(r, s);
    slot_free(s);
  }
  rep_set(R_BUSY, r, 0u);
}

fn step() -> bool {
  var next = lane_get(LS_NEXT);
  let first_next = next;
  var now = 0u;
  var any = false;
  tick(); // loop entry (gallivm counts it too)
  for (var r = 0u; r < cfg.replicas; r++) {
    tick();
    let r0 = rep_rec(0u, r);
    if (r0.x != 0u) {
      let e = r0.y;
      if (!any || e < now) {
        now = e;
        any = true;
      }
    }
  }
  var next_t = FAR; // arrival `next` as a lane time
  if (next < cfg.trace_length) {
    next_t = arrival_time(next);
    // An idle lane holds no times: move BASE to an arrival more than 2^32 µs ahead.
    if (next_t == FAR && !any) {
      BASE = trace_arrival(next);
      next_t = 0u;
    }
    if (!any || next_t < now) { now = next_t; }
    any = true;
  }
  if (!any) {
    stop(ST_DONE);
    return false;
  }
  count(W_INSTANTS, 1u);
  if (now >= 0x80000000u) {
    now -= rebase(now);
    if (lane_get(LS_STATUS) != 0u) { return false; }
    if (next < cfg.trace_length) { next_t = arrival_time(next); }
  }
  // Only replicas that end now run finish_iteration's body: on llvmpipe a call under a false `if`
  // still runs (masked), while a loop runs as many times as its busiest lane needs, at least once.
  var r = 0u;
  loop {
    tick();
    loop {
      tick();
      if (r >= cfg.replicas) { break; }
      let r0 = rep_rec(0u, r);
      if (r0.x != 0u && r0.y == now) { break; }
      r += 1u;
    }
    if (r >= cfg.replicas) { break; }
    finish_iteration(r, now);
    r += 1u;
  }
  loop {
    tick();
    if (next >= cfg.trace_length || next_t != now) { break; }
    if (!arrive(next)) { return false; }
    next += 1u;
    next_t = FAR;
    if (next < cfg.trace_length) { next_t = arrival_time(next); }
    // A burst of same-instant arrivals into a long sorted queue can outrun the loop limiter in one
    // step: stop between arrivals and start nobody; the next step resumes at the same instant, where
    // no replica ends (all were finished), so the outcome is that of one uninterrupted step.
    if (budget_spent() && next < cfg.trace_length && next_t == now) {
      lane_set(LS_NEXT, next);
      return true;
    }
  }
  let arrived = next != first_next;
  lane_set(LS_NEXT, next);
  let has_next = next < cfg.trace_length;
  let next_arrival = next_t;
  // Folds this instant's arrivals did not go to run on to the next arrival.
  r = 0u;
  loop {
    tick();
    if (!arrived) { break; }
    loop {
      tick();
      if (r >= cfg.replicas) { break; }
      if (rep_rec(0u, r).x == BUSY_OPEN) { break; }
      r += 1u;
    }
    if (r >= cfg.replicas) { break; }
    if (!extend_fold(r, has_next, next_arrival)) { return false; }
    r += 1u;
  }
  r = 0u;
  loop {
    tick();
    loop {
      tick();
      if (r >= cfg.replicas) { break; }
      let r0 = rep_rec(0u, r);
      if (r0.x == 0u && (r0.z > 0u || r0.w > 0u)) { break; }
      r += 1u;
    }
    if (r >= cfg.replicas) { break; }
    if (!start_iteration(r, now, has_next, next_arrival)) { return false; }
    r += 1u;
  }
  return true;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  lane = gid.x;
  if (lane >= U.lanes) { return; }
  if (lane_get(LS_STATUS) != 0u) { return; }
  load_config();
  load_metrics();
  BASE = vec2<u32>(lane_get(LS_BASE), lane_get(LS_BASE + 1u));
  ticks = 0u;
  tick(); // loop entry (gallivm counts it too)
  for (var k = 0u; k < U.steps; k++) {
    tick();
    if (budget_spent()) { break; }
    if (!step()) { break; }
  }
  store_metrics();
  lane_set(LS_BASE, BASE.x);
  lane_set(LS_BASE + 1u, BASE.y);
  flush_work_counters();
  if (LOOP_PROBE && !loop_limit_intact()) {
    stop(ST_LOOP_LIMIT);
    return;
  }
  if (lane_get(LS_STATUS) == 0u) { atomicAdd(&live[0], 1u); }
}
