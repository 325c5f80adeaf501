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
  enter(W_ACCESSES_ROUTE);
  let r = route(i);
  enter(W_ACCESSES_ARRIVE);
  routed += 1u;
  let m = slot_alloc();
  if (m == NIL) {
    stop(ST_SLOTS);
    return false;
  }
  let s = m - 1u;
  // Its scheduler must see the new request at its next iteration: the fold ends where it is.
  open_mask = mask_without(open_mask, r);
  if (!mask_has(busy_mask, r)) { start_mask = mask_with(start_mask, r); }
  rep_open(r);
  rep.outstanding += 1u;
  if (TOKEN_VIEWS) {
    var predicted = 0u;
    if (PREDICTED_VIEW) { predicted = trace_predicted(i); }
    token_views_add(r, prompt, predicted);
    if (status != 0u) { return false; }
  }
  slot_put(REC_ID, s, vec4<u32>(i, priority_key(prompt, trace_predicted(i), i), 0u, 0u));
  // FIRST_TOKEN and LAST_TOKEN are written before they are read (F_FIRST is clear).
  waiting_insert(s, vec4<u32>(NIL, 0u, prompt, output));
  rep_close();
  return true;
}

fn start_iteration(r: u32, now: u32, has_next: bool, next_arrival: u32) -> bool {
  enter(W_ACCESSES_START);
  rep_open(r);
  if (mask_has(pending_mask, r)) { begin_settling(r, now); }
  lane_now = now;
  begin_batch();
  // Proactive preemption may start once the free blocks shrink: such lanes fold only with nothing waiting.
  let pure = build_batch(r, now) && (!(has_displaces() || no_fold_with_waiting()) || rep.waiting == 0u);
  if (settling) {
    stop(ST_INTERNAL);
    return false;
  }
  start_mask = mask_without(start_mask, r);
  if (batch_size == 0u) {
    // Only a replica whose batch completed its last request schedules nothing: it goes idle.
    if (rep.waiting > 0u || rep.running > 0u) {
      stop(ST_INTERNAL);
      return false;
    }
    rep_close();
    return true;
  }
  let context = batch_sums.decode_ctx; // a fold's batch is all decodes
  let first_us = iteration_us(batch_sums);
  let folds = pure && U.fast_forward != 0u;
  // The fold stops where a key changes or a producer's prediction runs out, before anyone completes
  // (finish_iteration then takes none off).
  if (folds && min(until_rekey, min_gap) < min_left) {
    min_left = min(until_rekey, min_gap);
    min_count = 0u;
    min_blocks = 0u;
    min_excess = 0u;
  }
  record_iteration(first_us, folds);
  let end = now + first_us;
  if (end < now || end == FAR) {
    stop(ST_CLOCK);
    return false;
  }
  let f = vec4<u32>(context, min_left, 1u, end);
  rep_put(4u, r, vec4<u32>(min_count, min_blocks, residues_lo, residues_hi));
  if (TOKEN_VIEWS) {
    let v = rep_rec(R_QUEUED_PREFILL / 4u, r);
    rep_put(R_QUEUED_PREFILL / 4u, r, vec4<u32>(v.x, v.y, batch_sums.prompt, producers));
    if (PREDICTED_VIEW) { rep_set(R_MIN_EXCESS, r, min_excess); }
  }
  set_end(r, end);
  busy_mask = mask_with(busy_mask, r);
  open_mask = mask_without(open_mask, r);
  rep_close();
  if (folds) {
    enter(W_ACCESSES_FOLD);
    let after = start_fold(r, f, batch_size, end, rep.used, has_next, next_arrival);
    if (after != rep.used) { rep_set(R_USED, r, after); }
    // Folded iterations' blocks evict cached ones as they are taken: nothing else touches this
    // replica's cache before they start (simulator.ts recordIteration).
    if (lane_caches()) { cache_evict_to(r, cfg.kv_blocks - after); }
  } else {
    rep_put(2u, r, f);
  }
  return true;
}

// The batch in progress on replica r ends `now`: what routers see changes at once (the blocks and
// counts of the requests it completes); its requests are settled later in this instant (batch.wgsl).
fn finish_iteration(r: u32, now: u32) {
  enter(W_ACCESSES_FINISH);
  rep_open(r);
  let f = rep_rec(2u, r); // (FOLD_CONTEXT, MIN_LEFT, K, FIRST_END)
  if (f.z == f.y) {
    let c = rep_rec(4u, r); // (MIN_COUNT, MIN_BLOCKS, ..)
    rep.outstanding -= c.x;
    rep.running -= c.x;
    rep.used -= c.y;
  }
  if (TOKEN_VIEWS) {
    // Its prompt tokens are prefilled and each producer with prediction left generated K tokens; an
    // over-predicted request that completes takes its unused prediction away.
    let v = rep_rec(R_QUEUED_PREFILL / 4u, r);
    var decode = v.y - f.z * v.w;
    if (PREDICTED_VIEW && f.z == f.y) { decode -= rep_get(R_MIN_EXCESS, r); }
    rep_put(R_QUEUED_PREFILL / 4u, r, vec4<u32>(v.x - v.z, decode, v.z, v.w));
  }
  if (has_scheduler_word_idle() || has_scheduler_word_after_folds()) {
    let word = rep_get(R_SCHEDULER_WORD, r);
    var after = word;
    if (f.z > 1u) { after = scheduler_word_after_folds(after, f.z - 1u); }
    if (rep.running == 0u && rep.waiting == 0u) { after = scheduler_word_idle(after); }
    if (after != word) { rep_set(R_SCHEDULER_WORD, r, after); }
  }
  busy_mask = mask_without(busy_mask, r);
  open_mask = mask_without(open_mask, r);
  start_mask = mask_with(start_mask, r);
  if (lane_caches()) {
    // Its insertions and releases change the cache and the blocks in use routers see: it is
    // settled now, in a walk of its own.
    begin_settling(r, now);
    settle_running();
  } else {
    // Its requests are settled by its next start, in this instant, even if it has no work left.
    pending_mask = mask_with(pending_mask, r);
  }
  rep_close();
}

fn step() -> bool {
  enter(W_ACCESSES_EVENT_SCAN);
  var next = next_arrival_index;
  let first_next = next;
  // The next event: the earliest end of a busy replica (one load per four replicas), or the next arrival.
  var now = FAR;
  var any = false;
  var ending = vec4<u32>(0u); // replicas whose iteration ends at `now`
  tick(); // loop entry (gallivm counts it too)
  for (var g = 0u; g * 4u < cfg.replicas; g++) {
    tick();
    let busy4 = (busy_mask[g / 8u] >> ((g % 8u) * 4u)) & 0xfu;
    if (busy4 == 0u) { continue; }
    let e4 = ends_rec(g);
    tick();
    for (var c = 0u; c < 4u; c++) {
      tick();
      if ((busy4 & (1u << c)) == 0u) { continue; }
      let e = e4[c];
      let r = 4u * g + c;
      if (!any || e < now) {
        now = e;
        any = true;
        ending = vec4<u32>(0u);
      }
      if (e == now) { ending = mask_with(ending, r); }
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
    if (!any || next_t < now) {
      now = next_t;
      ending = vec4<u32>(0u);
    }
    any = true;
  }
  if (!any) {
    flush_fold_runs();
    stop(ST_DONE);
    return false;
  }
  count(W_INSTANTS, 1u);
  if (now >= 0x80000000u) {
    now -= rebase(now);
    if (status != 0u) { return false; }
    if (next < cfg.trace_length) { next_t = arrival_time(next); }
  }
  var r = mask_next(ending, 0u);
  loop {
    tick();
    if (r == NONE) { break; }
    finish_iteration(r, now);
    enter(W_ACCESSES_EVENT_SCAN);
    r = mask_next(ending, r + 1u);
  }
  loop {
    tick();
    if (next >= cfg.trace_length || next_t != now) { break; }
    enter(W_ACCESSES_ARRIVE);
    if (!arrive(next)) { return false; }
    enter(W_ACCESSES_EVENT_SCAN);
    next += 1u;
    next_t = FAR;
    if (next < cfg.trace_length) { next_t = arrival_time(next); }
    // A burst of same-instant arrivals into a long queue can outrun the loop limiter in one step:
    // stop between arrivals and start nobody; the next step resumes at the same instant, where no
    // replica ends (all were finished), so the outcome is that of one uninterrupted step.
    if (budget_spent() && next < cfg.trace_length && next_t == now) {
      next_arrival_index = next;
      return true;
    }
  }
  let arrived = next != first_next;
  next_arrival_index = next;
  let has_next = next < cfg.trace_length;
  let next_arrival = next_t;
  // Folds this instant's arrivals did not go to run on to the next arrival.
  if (arrived) {
    r = mask_next(open_mask, 0u);
    loop {
      tick();
      if (r == NONE) { break; }
      enter(W_ACCESSES_OPEN_FOLDS);
      // A fold whose end is at or after the next arrival stays as it is (and open).
      let end = end_of(r);
      if (!has_next || end < next_arrival) {
        let used = rep_get(R_USED, r);
        let after = continue_fold(r, end, used, has_next, next_arrival);
        if (after != used) { rep_set(R_USED, r, after); }
        if (lane_caches()) { cache_evict_to(r, cfg.kv_blocks - after); }
      }
      enter(W_ACCESSES_EVENT_SCAN);
      r = mask_next(open_mask, r + 1u);
    }
  }
  r = mask_next(start_mask, 0u);
  loop {
    tick();
    if (r == NONE) { break; }
    if (!start_iteration(r, now, has_next, next_arrival)) { return false; }
    enter(W_ACCESSES_EVENT_SCAN);
    r = mask_next(start_mask, r + 1u);
  }
  return true;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  lane = gid.x;
  enter(W_ACCESSES_DISPATCH);
  if (lane >= U.lanes) { return; }
  if (!load_lane()) { return; }
  load_config();
  ticks = 0u;
  tick(); // loop entry (gallivm counts it too)
  for (var k = 0u; k < U.steps; k++) {
    tick();
    if (budget_spent()) { break; }
    if (!step()) { break; }
  }
  enter(W_ACCESSES_DISPATCH);
  if (LOOP_PROBE && !loop_limit_intact()) { stop(ST_LOOP_LIMIT); }
  store_lane();
  flush_work_counters();
  if (status == 0u) { atomicAdd(&live[0], 1u); }
}
