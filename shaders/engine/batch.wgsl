// Building an iteration's batch on the open replica: admission, block allocation, preemption, the
// two batching families, and settling the previous batch. Twin of src/policy/engine/batching/
// (prefill-first.ts, chunked.ts, running.ts: scheduleRunning, victimPosition), reservation.ts, and
// admit, preempt, finishIteration and complete in src/sim/cpu/ (batch-context.ts, simulator.ts).
//
// A request holds ceil(ctx / blockSize) blocks. A prefill chunk is counted in CTX when it is
// scheduled (F_BATCH_PREFILL), so the blocks allocated for it match at once; a decode step is
// counted when its batch is settled (F_BATCH_DECODE), since a fold may add more than one.
//
// Settling. finish_iteration applies a batch's end to its replica at once: the blocks and counts of
// the requests it completes (what routers see) are known from when the batch was built (MIN_LEFT,
// MIN_COUNT, MIN_BLOCKS). The requests' own updates (context, tokens left, first-token and
// inter-token samples, completion statistics) are settled by the next walk over the running list in
// the same instant, which is usually the scheduling walk of the replica's next batch: one walk per
// instant serves both. A replica whose batch completed its last request is settled the same way,
// by a build that finds nothing to schedule.

// The settling of the open replica's previous batch, when `settling`.
var<private> settling: bool;
var<private> settle_k: u32; // iterations in the batch
var<private> settle_first_end: u32; // end of its first iteration
var<private> settle_prev_end: u32; // PREV_END before it: the last token time of requests that have F_RECENT from before
var<private> settle_now: u32; // its end
var<private> itl_run_bucket: u32; // inter-token samples written per run of equal buckets
var<private> itl_run_times: u32;
var<private> settle_completes: bool; // settle_member's request completes: the caller calls settle_completion
var<private> settle_id: vec4<u32>; // its ID record, when settle_member loaded it
var<private> settle_id_loaded: bool;

fn begin_settling(r: u32, now: u32) {
  let f = rep_rec(2u, r); // (FOLD_CONTEXT, MIN_LEFT, K, FIRST_END)
  settling = true;
  settle_k = f.z;
  settle_first_end = f.w;
  settle_prev_end = rep.prev_end;
  settle_now = now;
  itl_run_times = 0u;
}

fn end_settling() {
  if (!settling) { return; }
  if (itl_run_times > 0u) { hist_bump_bucket(H_ITL * HIST_BUCKETS + itl_run_bucket, itl_run_times); }
  rep.prev_end = settle_now;
  settling = false;
  pending_mask = mask_without(pending_mask, rep_index);
}

// Applies the settled batch to running request s (hot record h); returns the updated record, which
// the caller stores, unless settle_completes: then the caller calls settle_completion, out of its
// walk's inner loop (on llvmpipe code inside the loop runs, masked, for every request visited).
fn settle_member(s: u32, h_in: vec4<u32>) -> vec4<u32> {
  var h = h_in;
  settle_completes = false;
  var flags = flags_of(h);
  var ctx = ctx_of(h);
  var produces = false;
  if ((flags & F_BATCH_DECODE) != 0u) {
    ctx += settle_k;
    h.w -= settle_k;
    produces = true;
  } else if ((flags & F_BATCH_PREFILL) != 0u && h.z == 0u) {
    h.w -= 1u;
    produces = true;
  }
  let was_recent = (flags & F_RECENT) != 0u;
  let prefilled = (flags & F_BATCH_PREFILL) != 0u;
  flags &= ~(F_BATCH_DECODE | F_BATCH_PREFILL | F_RECENT | F_BATCH_ADMITTED);
  var id = vec4<u32>(0u);
  var id_loaded = false;
  if (produces) {
    flags |= F_RECENT; // its last token time is now this batch's end, the next PREV_END
    if ((flags & F_FIRST) == 0u) {
      flags |= F_FIRST;
      id = slot_rec(REC_ID, s);
      id_loaded = true;
      id.z = settle_first_end;
      hadd(H_TTFT, since_arrival(id.x, settle_first_end), 1u);
      slot_put(REC_ID, s, id);
    } else {
      var last = settle_prev_end;
      if (!was_recent) {
        id = slot_rec(REC_ID, s);
        id_loaded = true;
        last = id.w;
      }
      let v = settle_first_end - last;
      hstat(H_ITL, v, 1u);
      let b = bucket_of(v);
      if (itl_run_times > 0u && b != itl_run_bucket) {
        hist_bump_bucket(H_ITL * HIST_BUCKETS + itl_run_bucket, itl_run_times);
        itl_run_times = 0u;
      }
      itl_run_bucket = b;
      itl_run_times += 1u;
    }
  } else if (was_recent) {
    // Its last token time leaves PREV_END: keep it in the slot.
    id = slot_rec(REC_ID, s);
    id_loaded = true;
    id.w = settle_prev_end;
    slot_put(REC_ID, s, id);
  }
  h = with_ctx_flags(h, ctx, flags);
  if (lane_caches() && prefilled) {
    if (!id_loaded) {
      id = slot_rec(REC_ID, s);
      id_loaded = true;
    }
    cache_computed_blocks(s, id.x, ctx);
  }
  settle_completes = produces && h.w == 0u;
  settle_id = id;
  settle_id_loaded = id_loaded;
  return h;
}

// The request settle_member found completing (slot s, hot record h) leaves the running list.
fn settle_completion(s: u32, h: vec4<u32>) {
  var id = settle_id;
  if (!settle_id_loaded) { id = slot_rec(REC_ID, s); }
  running_unlink(s, h);
  complete_cached(s, id);
}

// complete() on a lane with prefix caching: finish_iteration took all its blocks off as its own;
// its cached ones other running requests still hold stay in use (Replica.release).
fn complete_cached(s: u32, id: vec4<u32>) {
  if (lane_caches()) { rep.used += cached_blocks(s) - cache_leave(s, id.x); }
  complete(s, id);
}

// Completion statistics of request s (ID record id) at the settled batch's end; finish_iteration
// already took its blocks and counts off the replica.
fn complete(s: u32, id: vec4<u32>) {
  let now = settle_now;
  let i = id.x;
  let output = trace_output(i);
  let first = id.z;
  cnt_add(C_COMPLETED, 1u);
  cnt_add(C_OUTPUT_TOKENS, output);
  let e2e = since_arrival(i, now);
  hadd(H_E2E, e2e, 1u);
  var tpot_ok = true;
  if (output > 1u) {
    let tpot = (now - first) / (output - 1u);
    hadd(H_TPOT, tpot, 1u);
    tpot_ok = tpot <= cfg.slo_tpot_us;
  }
  let ttft_ok = e2e - (now - first) <= cfg.slo_ttft_us;
  if (ttft_ok) { cnt_add(C_TTFT_MET, 1u); }
  if (tpot_ok) { cnt_add(C_TPOT_MET, 1u); }
  if (ttft_ok && tpot_ok) { cnt_add(C_SLO_MET, 1u); }
  let t = add64(BASE, vec2<u32>(now, 0u));
  let w = 2u * C_MAKESPAN_US;
  if (t.y > cnt[w + 1u] || (t.y == cnt[w + 1u] && t.x > cnt[w])) {
    cnt[w] = t.x;
    cnt[w + 1u] = t.y;
  }
  slot_free(s);
}

// ---- the batch being built ----

var<private> lane_now: u32; // the instant of the batch formation in progress (requeue_key reads it)

// Batch totals, summed as requests join the batch (the iteration model's inputs: iteration.wgsl).
var<private> batch_size: u32;
var<private> batch_sums: BatchSums;
// The requests that complete when the batch ends: those that produce a token and have the fewest
// tokens left (min_left), if the batch runs min_left iterations; and the blocks they hold then.
var<private> min_left: u32;
var<private> min_count: u32;
var<private> min_blocks: u32;
// The predicted decode view (PREDICTED_VIEW pipelines; state.wgsl token_view): members that
// produce a token with prediction left (predicted > generated), the fewest tokens of prediction
// left among them (min_gap, where a fold stops), and the prediction the requests at min_left have
// beyond their output (min_excess, which leaves the view when they complete).
var<private> producers: u32;
var<private> min_gap: u32;
var<private> min_excess: u32;
var<private> until_rekey: u32; // fewest tokens a decoding member may generate before its key changes
// The fold's residues (contexts mod block size of its requests, gathered while the batch can still
// be pure decode): one byte each in two words for up to 8 requests, else the replica's table.
var<private> residues_small: bool;
var<private> residues_lo: u32;
var<private> residues_hi: u32;
var<private> residues_n: u32;

fn join_batch(ctx_before: u32, tokens: u32, prefill: bool) {
  batch_size += 1u;
  batch_sums = batch_sums_add(batch_sums, ctx_before, tokens, prefill);
}

// A member (slot s) that produces a token with `left` tokens left (before the batch) and
// `ctx_after` context after the batch's first iteration.
fn count_producer(s: u32, left: u32, ctx_after: u32) {
  let blocks = ceil_div(ctx_after + left - 1u, cfg.block_size);
  var excess = 0u;
  if (PREDICTED_VIEW) {
    var gap = left; // the oracle's prediction is the output
    if (cfg.predicted != NO_PREDICTIONS) {
      let i = slot_rec(REC_ID, s).x;
      let predicted = trace_predicted(i);
      let output = trace_output(i);
      let generated = output - left;
      gap = select(0u, predicted - generated, predicted > generated);
      excess = select(0u, predicted - output, predicted > output);
    }
    if (gap > 0u) {
      producers += 1u;
      min_gap = min(min_gap, gap);
    }
  }
  if (left < min_left) {
    min_left = left;
    min_count = 0u;
    min_blocks = 0u;
    min_excess = 0u;
  }
  if (left == min_left) {
    min_count += 1u;
    min_blocks += blocks;
    min_excess += excess;
  }
}

fn begin_batch() {
  head_slot = 0u;
  batch_size = 0u;
  batch_sums = batch_sums_empty();
  min_left = 0xffffffffu;
  min_count = 0u;
  min_blocks = 0u;
  producers = 0u;
  min_gap = 0xffffffffu;
  min_excess = 0u;
  until_rekey = 0xffffffffu;
  residues_n = 0u;
  residues_lo = 0xffffffffu;
  residues_hi = 0xffffffffu;
  residues_small = rep.running <= 8u;
  if (U.fast_forward != 0u && !residues_small) {
    tick(); // loop entry (gallivm counts it too)
    for (var q = 0u; q < cfg.block_size; q += 4u) {
      tick();
      rep_put(R_RESIDUE_RECORD + q / 4u, rep_index, vec4<u32>(0u));
    }
  }
}

fn add_residue(q: u32) {
  if (residues_small) {
    let shift = 8u * (residues_n % 4u);
    let byte = (q << shift) | ~(0xffu << shift);
    if (residues_n < 4u) { residues_lo &= byte; } else { residues_hi &= byte; }
  } else {
    let i = rep_ix(R_RESIDUE_RECORD + q / 4u, rep_index);
    count_load();
    count_store();
    reps[i][q % 4u] += 1u;
  }
  residues_n += 1u;
}

// Admits the waiting head (slot s, hot record h) with a first chunk of `chunk` tokens and `blocks` blocks.
// With prefix caching its context starts after its cached prefix (head_lookup, done by the caller's
// head_prefill), whose entries it holds (batch-context.ts startFromCache).
fn admit(s: u32, h: vec4<u32>, chunk: u32, blocks: u32, now: u32) {
  waiting_pop(h);
  let id = slot_rec(REC_ID, s);
  var flags = flags_of(h);
  var start = 0u; // waiting requests hold no KV: ctx 0, or their cached prefix
  if (lane_caches()) {
    head_lookup(s, h);
    start = head_hit * cfg.block_size;
    _ = cache_acquire(rep_index, id.x, head_hit);
    slot_put(REC_AUX, s, vec4<u32>(chunk, head_hit, 0u, 0u));
    cnt_add(C_PREFIX_LOOKUPS, 1u);
    cnt_add(C_PREFIX_LOOKUP_TOKENS, h.z);
    cnt_add(C_PREFIX_HIT_TOKENS, start);
    if (start > 0u) { cnt_add(C_PREFIX_HITS, 1u); }
    if (TOKEN_VIEWS && start > 0u) {
      let v = rep_rec(R_QUEUED_PREFILL / 4u, rep_index);
      rep_put(R_QUEUED_PREFILL / 4u, rep_index, vec4<u32>(v.x - start, v.y, v.z, v.w));
    }
    flags |= F_BATCH_ADMITTED;
  }
  rep.used += blocks;
  if (lane_caches()) { cache_evict_to(rep_index, cfg.kv_blocks - rep.used); }
  if ((flags & F_ADMITTED) == 0u) {
    flags |= F_ADMITTED;
    hadd(H_QUEUE, since_arrival(id.x, now), 1u);
  }
  var a = with_ctx_flags(h, start + chunk, flags | F_BATCH_PREFILL);
  a.z -= start + chunk;
  if (a.z == 0u) { count_producer(s, a.w, start + chunk); }
  slot_put(REC_HOT, s, running_insert(s, a, id));
  join_batch(start, chunk, true);
}

// Recompute preemption of slot s (hot record h, already off the running list): drop all KV, wait
// again to prefill prompt + generated.
fn preempt(s: u32, h: vec4<u32>) {
  let ctx = ctx_of(h);
  var flags = flags_of(h) & ~F_BATCH_ADMITTED;
  var id = slot_rec(REC_ID, s);
  rep.used -= ceil_div(ctx, cfg.block_size);
  // Its cached blocks other running requests hold stay in use (Replica.release).
  if (lane_caches()) { rep.used += cached_blocks(s) - cache_leave(s, id.x); }
  let recent = (flags & F_RECENT) != 0u;
  if (recent) {
    // Its last token time is about to leave the replica's PREV_END: keep it in the slot. A request
    // preempted while its replica settles has been settled, so its F_RECENT is the settled batch's.
    id.w = select(rep.prev_end, settle_now, settling);
    flags &= ~F_RECENT;
  }
  if (has_requeue_key()) { id.y = requeue_key(id.x, h.w); }
  if (recent || has_requeue_key()) { slot_put(REC_ID, s, id); }
  if ((flags & F_PREEMPTED) == 0u) {
    cnt_add(C_PREEMPTED_REQUESTS, 1u);
    flags |= F_PREEMPTED;
  }
  cnt_add(C_PREEMPTIONS, 1u);
  let generated = trace_output(id.x) - h.w;
  // It prefills prompt + generated again; h.z of it was still queued (CPU: prefillTarget - ctx).
  if (TOKEN_VIEWS) { token_views_add(rep_index, trace_prompt(id.x) + generated - h.z, 0u); }
  var w = with_ctx_flags(h, 0u, flags);
  w.z = trace_prompt(id.x) + generated;
  waiting_insert(s, w);
}

// schedule_running's results (private variables rather than a returned struct).
var<private> sr_preempted: bool;
var<private> sr_budget: u32;
var<private> sr_all_decodes: bool;
var<private> sr_scheduled: u32;
// A withdrawn step may have been one of the batch's first completions: recount them after the walk.
var<private> producers_stale: bool;

// Running requests in priority order each get their next step within the budget; a step that needs
// a block when none is free preempts the victim (victim_while_at), possibly itself, after which the
// walk goes on with the next request. The same walk settles the previous batch when `settling` (all
// the way down the list, whatever the budget), and gathers the fold's inputs while every step so far
// is a decode.
fn schedule_running(budget_in: u32) {
  var preempted = false;
  var budget = budget_in;
  var all_decodes = true;
  var scheduled = 0u;
  var m = rep.r_head;
  var resumed = false; // the walk resumes at a request it settled before a preemption
  var resume_tokens = 0u; // with the step it had chosen then (as scheduleRunning keeps `tokens`)
  producers_stale = false;
  // The inner loop walks; it breaks out to complete a request or to preempt a victim, and resumes,
  // so that code runs once per completion or preemption, not (masked, on llvmpipe) per request.
  loop {
    tick();
    var s = 0u;
    var h = vec4<u32>(0u);
    var blocked = false;
    var completes = false;
    var tokens = 1u;
    loop {
      tick();
      if (m == NIL || (budget == 0u && !settling)) { break; }
      count(W_VISITS, 1u);
      s = m - 1u;
      h = slot_rec(REC_HOT, s);
      if (settling && !resumed) {
        h = settle_member(s, h);
        if (settle_completes) {
          completes = true;
          break;
        }
      }
      let ctx = ctx_of(h);
      let left = h.z;
      let in_prefill = left > 0u;
      tokens = 1u;
      if (in_prefill) { tokens = min(left, budget); }
      if (resumed) { tokens = resume_tokens; }
      resumed = false;
      let need = ceil_div(ctx + tokens, cfg.block_size) - ceil_div(ctx, cfg.block_size);
      if (budget == 0u || rep.used + need > cfg.kv_blocks) {
        slot_put(REC_HOT, s, h);
        if (budget == 0u) {
          m = link_hi(h);
          continue;
        }
        blocked = true;
        break;
      }
      schedule_step(s, h, need, tokens, all_decodes);
      if (in_prefill) { all_decodes = false; }
      budget -= tokens;
      scheduled += 1u;
      m = link_hi(h);
    }
    if (completes) {
      settle_completion(s, h);
      m = link_hi(h);
      continue;
    }
    if (!blocked) { break; }
    let victim = victim_while_at(s);
    var vh = slot_rec(REC_HOT, victim);
    if (victim_unreached && settling) {
      // The walk has not reached the victim: settle it first; if it completes, it leaves the list
      // (its blocks were already freed) and the victim is chosen again.
      vh = settle_member(victim, vh);
      if (settle_completes) {
        settle_completion(victim, vh);
        m = s + 1u;
        resumed = true;
        resume_tokens = tokens;
        continue;
      }
    }
    if (!victim_unreached && (flags_of(vh) & (F_BATCH_DECODE | F_BATCH_PREFILL)) != 0u) {
      let withdrawn = withdraw_step(victim, vh);
      budget += withdrawn;
      scheduled -= 1u;
      // A withdrawn chunk is again prompt still to prefill (the token views' queued count).
      if ((flags_of(vh) & F_BATCH_PREFILL) != 0u) { vh.z += withdrawn; }
      vh = with_ctx_flags(vh, ctx_of(vh), flags_of(vh) & ~(F_BATCH_DECODE | F_BATCH_PREFILL | F_BATCH_ADMITTED));
    }
    let after_victim = link_hi(vh);
    running_remove(victim, vh);
    preempt(victim, vh);
    preempted = true;
    if (victim == s) {
      // scheduleRunning's `continue`: the next request (under the default rule s was the last).
      m = after_victim;
      continue;
    }
    // Resume at request s (settled already); its links may have changed (it may be the new tail).
    m = s + 1u;
    resumed = true;
    resume_tokens = tokens;
  }
  if (producers_stale) { recount_producers(); }
  end_settling();
  sr_preempted = preempted;
  sr_budget = budget;
  sr_all_decodes = all_decodes;
  sr_scheduled = scheduled;
}

// The hot record of running-list link m (slot + 1) in a walk of the whole list (one loop iteration).
fn visit_running(m: u32) -> vec4<u32> {
  tick();
  count(W_VISITS, 1u);
  return slot_rec(REC_HOT, m - 1u);
}

// ---- victims (victimPosition in running.ts) ----

// Whether the victim victim_while_at chose is one the walk has not reached yet.
var<private> victim_unreached: bool;

// The victim when the walk, at slot s, needs a block (s = NIL - 1u: before any walk, with the
// replica settled): the last running request under the default rule; under the scheduler's
// preempt_first, the running request no other is strictly preferred to, the later on ties. It
// compares the hot records the CPU reference has then: without this iteration's chunk for a request
// the walk scheduled a prefill chunk, with the settling batch's tokens for one the walk has not
// reached (one that completes in it has left the CPU's list).
fn victim_while_at(s: u32) -> u32 {
  if (!has_preempt_first()) {
    victim_unreached = rep.r_tail - 1u != s;
    return rep.r_tail - 1u;
  }
  var best = NIL;
  var best_h = vec4<u32>(0u);
  var best_unreached = false;
  var unreached = false;
  tick(); // loop entry (gallivm counts it too)
  for (var m = rep.r_head; m != NIL;) {
    let h = visit_running(m);
    let flags = flags_of(h);
    var seen = h;
    var candidate = true;
    if (unreached) {
      if (settling && (flags & F_BATCH_DECODE) != 0u) {
        seen = with_ctx_flags(h, ctx_of(h) + settle_k, flags);
        seen.w -= settle_k;
        candidate = h.w != settle_k;
      } else if (settling && (flags & F_BATCH_PREFILL) != 0u && h.z == 0u) {
        seen.w -= 1u;
        candidate = h.w != 1u;
      }
    } else if ((flags & F_BATCH_PREFILL) != 0u) {
      let chunk = noted_chunk(m - 1u); // this iteration's chunk
      seen = with_ctx_flags(h, ctx_of(h) - chunk, flags);
      seen.z += chunk;
    }
    if (candidate && (best == NIL || !preempt_first(best - 1u, best_h, m - 1u, seen))) {
      best = m;
      best_h = seen;
      best_unreached = unreached;
    }
    if (m - 1u == s) { unreached = true; }
    m = link_hi(h);
  }
  victim_unreached = best_unreached;
  return best - 1u;
}

// A scheduled prefill chunk of `tokens` tokens of slot s, for victim_while_at and withdraw_step: in
// the AUX record, or in the KEY word when the pipeline has none (its schedulers with preempt_first
// compute their keys, queue_key; compose.ts slotRecords).
fn note_chunk(s: u32, tokens: u32) {
  if (S_RECORDS > REC_AUX) {
    var cached = 0u;
    if (CACHING) { cached = cached_blocks(s); }
    slot_put(REC_AUX, s, vec4<u32>(tokens, cached, 0u, 0u));
    return;
  }
  let id = slot_rec(REC_ID, s);
  slot_put(REC_ID, s, vec4<u32>(id.x, tokens, id.z, id.w));
}

fn noted_chunk(s: u32) -> u32 {
  if (S_RECORDS > REC_AUX) { return slot_rec(REC_AUX, s).x; }
  return slot_rec(REC_ID, s).y;
}

// Takes the step the walk scheduled for slot s (hot record h) out of the batch: its blocks, its
// batch totals; returns its tokens, which go back to the budget (the CPU's preempt() `withdrawn`).
fn withdraw_step(s: u32, h: vec4<u32>) -> u32 {
  let ctx = ctx_of(h);
  batch_size -= 1u;
  if ((flags_of(h) & F_BATCH_DECODE) != 0u) {
    rep.used -= ceil_div(ctx + 1u, cfg.block_size) - ceil_div(ctx, cfg.block_size);
    batch_sums = batch_sums_sub(batch_sums, ctx, 1u, false);
    producers_stale = true;
    return 1u;
  }
  // A prefill chunk is counted in CTX; preempt() frees its blocks with the rest.
  let chunk = noted_chunk(s);
  batch_sums = batch_sums_sub(batch_sums, ctx - chunk, chunk, true);
  if (h.z == 0u) { producers_stale = true; }
  return chunk;
}

// count_producer over the batch's members again, after a withdrawn step.
fn recount_producers() {
  producers = 0u;
  min_gap = 0xffffffffu;
  min_excess = 0u;
  min_left = 0xffffffffu;
  min_count = 0u;
  min_blocks = 0u;
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL;) {
    let h = visit_running(m);
    let flags = flags_of(h);
    if ((flags & F_BATCH_DECODE) != 0u) {
      count_producer(m - 1u, h.w, ctx_of(h) + 1u);
    } else if ((flags & F_BATCH_PREFILL) != 0u && h.z == 0u) {
      count_producer(m - 1u, h.w, ctx_of(h));
    }
    m = link_hi(h);
  }
}

// ---- reservation admission (reservation.ts), for schedulers with reserve_target ----

// Blocks not reserved for the running requests' growth; overdrawn: below zero (every request then
// fails the comparison, and charging keeps it below zero).
var<private> unreserved: u32;
var<private> overdrawn: bool;

// reservationAdmission's begin(): free blocks - watermark - the blocks the running requests' reserve
// targets need beyond the blocks they hold. Prefill-first calls it before its walk settles the
// previous batch: a request not settled yet counts with its settled context, and one that
// completes in that batch has already left the CPU's running list.
fn begin_reservation() {
  var reserved = 0u;
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL;) {
    let s = m - 1u;
    let h = visit_running(m);
    m = link_hi(h);
    let flags = flags_of(h);
    var held = ctx_of(h); // tokens whose blocks it holds
    if ((flags & F_BATCH_DECODE) != 0u) {
      if (!settling) {
        held += 1u; // its decode step's block is taken
      } else if (h.w == settle_k) {
        continue;
      } else {
        held += settle_k;
      }
    } else if (settling && (flags & F_BATCH_PREFILL) != 0u && h.z == 0u && h.w == 1u) {
      continue;
    }
    // prefillTarget is held + prefill left while it prefills; after, it is at most held.
    let goal = ceil_div(max(held + h.z, reserve_target(slot_rec(REC_ID, s).x)), cfg.block_size);
    let grow = goal - min(goal, ceil_div(held, cfg.block_size));
    reserved = min(reserved + grow, 0x80000000u); // beyond the KV blocks every comparison fails anyway
  }
  let free = cfg.kv_blocks - rep.used;
  overdrawn = free < cfg.watermark_blocks || free - cfg.watermark_blocks < reserved;
  unreserved = select(free - cfg.watermark_blocks - reserved, 0u, overdrawn);
}

// reservationAdmission's admit() for the waiting head (slot s, hot record h): it starts if the
// blocks of its reserve target are not reserved, or when its replica runs nothing (admissionAllows).
fn reservation_admits(s: u32, h: vec4<u32>) -> bool {
  let need = ceil_div(max(h.z, reserve_target(slot_rec(REC_ID, s).x)), cfg.block_size); // waiting: prefill target h.z
  let fits = !overdrawn && need <= unreserved;
  if (!fits && rep.running > 0u) { return false; }
  if (fits) {
    unreserved -= need;
  } else {
    overdrawn = true;
  }
  return true;
}

// ---- proactive preemption (displaceForWaiting in running.ts), for schedulers with displaces ----

// Whether the waiting head could start in an empty batch: a whole prompt (prefill-first) or a first
// chunk of the token budget (chunked). Completions of the batch that ends now are off the replica's
// blocks and counts already (finish_iteration).
fn head_can_start(whole: bool) -> bool {
  if (whole) { return prefill_first_admits(0u); }
  if (rep.running >= cfg.max_num_seqs) { return false; }
  let s = rep.w_root - 1u;
  let chunk = min(head_prefill(s, slot_rec(REC_HOT, s)), cfg.max_batched_tokens);
  return rep.used + head_blocks(chunk) + cfg.watermark_blocks <= cfg.kv_blocks;
}

// While the waiting head cannot start and may displace the victim, preempt the victim. The rules
// compare settled requests, so the replica's previous batch is settled first, in its own walk.
fn displace_for_waiting(whole: bool) {
  if (!has_displaces() || rep.w_root == NIL || head_can_start(whole)) { return; }
  settle_running();
  loop {
    tick();
    if (rep.w_root == NIL || rep.running == 0u || head_can_start(whole)) { break; }
    let v = victim_while_at(NIL - 1u);
    let vh = slot_rec(REC_HOT, v);
    let head = rep.w_root - 1u;
    if (!displaces(head, slot_rec(REC_HOT, head), v, vh)) { break; }
    running_remove(v, vh);
    preempt(v, vh);
  }
}

fn prefill_first_admits(tokens: u32) -> bool {
  if (rep.w_root == NIL || rep.running >= cfg.max_num_seqs) { return false; }
  let s = rep.w_root - 1u;
  let need = head_prefill(s, slot_rec(REC_HOT, s)); // prefill target but the cached prefix: the waiting request holds no KV
  return tokens + need <= cfg.max_batched_tokens && rep.used + head_blocks(need) + cfg.watermark_blocks <= cfg.kv_blocks;
}

fn build_prefill_first(r: u32, now: u32) -> bool {
  // One walk of the running list either way: it settles the previous batch, and schedules every
  // running request's decode step unless prompts are admitted (then the iteration runs only them).
  // Reservation admission is decided first, as the CPU's begin() runs before any step.
  if (has_rekey_after_tokens()) { settle_running(); }
  displace_for_waiting(true);
  let head_fits = prefill_first_admits(0u);
  let reserves = has_reserve_target();
  if (reserves && head_fits) { begin_reservation(); }
  let admits = head_fits && (!reserves || reservation_admits(rep.w_root - 1u, slot_rec(REC_HOT, rep.w_root - 1u)));
  schedule_running(select(0xffffffffu, 0u, admits));
  if (!admits) { return !sr_preempted; }
  var tokens = 0u;
  loop {
    tick();
    let s = rep.w_root - 1u;
    let h = slot_rec(REC_HOT, s);
    let need = head_prefill(s, h);
    admit(s, h, need, head_blocks(need), now);
    tokens += need;
    if (!prefill_first_admits(tokens)) { break; }
    if (reserves && !reservation_admits(rep.w_root - 1u, slot_rec(REC_HOT, rep.w_root - 1u))) { break; }
  }
  return false;
}

// vLLM v1 / Sarathi: running requests first within the budget, then new prompt chunks.
fn build_chunked(r: u32, now: u32) -> bool {
  if (has_rekey_after_tokens()) { settle_running(); }
  displace_for_waiting(false);
  schedule_running(cfg.max_batched_tokens);
  if (sr_preempted) { return false; }
  let admitted = admit_chunks(sr_budget, now) != sr_budget;
  return !admitted && sr_all_decodes && sr_scheduled == rep.running;
}

// Waiting requests in order start with a first chunk of what is left of `budget_in`, while a
// sequence slot, their blocks above the watermark and the scheduler's admission rule allow
// (chunked.ts, prefill-priority.ts); returns the budget left.
fn admit_chunks(budget_in: u32, now: u32) -> u32 {
  var budget = budget_in;
  if (rep.w_root != NIL) { begin_admission(); }
  loop {
    tick();
    if (rep.w_root == NIL || budget == 0u || rep.running >= cfg.max_num_seqs) { break; }
    let s = rep.w_root - 1u;
    let h = slot_rec(REC_HOT, s);
    let chunk = min(head_prefill(s, h), budget);
    let need = head_blocks(chunk);
    if (rep.used + need + cfg.watermark_blocks > cfg.kv_blocks) { break; }
    if (!admission_allows(s, h, chunk)) { break; }
    admit(s, h, chunk, need, now);
    budget -= chunk;
  }
  return budget;
}

// admissionAllows: the reservation (schedulers with reserve_target) or the scheduler's own rule
// (admission_admits; true for the others), forced on a replica that runs nothing.
fn begin_admission() {
  if (has_reserve_target()) {
    begin_reservation();
  } else {
    _ = admission_begin();
  }
}

fn admission_allows(s: u32, h: vec4<u32>, tokens: u32) -> bool {
  if (has_reserve_target()) { return reservation_admits(s, h); }
  return admission_admits(s, h, tokens, rep.running == 0u);
}

// SGLang without mixed chunks (twin of batching/prefill-priority.ts): a prefill iteration whenever
// prompt work can start (the prompt in progress, then waiting requests in order, the one that does
// not fit cut to the budget), else a decode iteration of every running request, after the
// scheduler's before_decode. The previous batch is settled first, in a walk of its own.
fn build_prefill_priority(r: u32, now: u32) -> bool {
  settle_running();
  // A replica left with no work goes idle: no batch is formed (nor is before_decode asked).
  if (rep.running == 0u && rep.waiting == 0u) { return false; }
  var budget = cfg.max_batched_tokens;
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL && budget > 0u;) {
    let s = m - 1u;
    let h = visit_running(m);
    m = link_hi(h);
    if (h.z == 0u) { continue; }
    let ctx = ctx_of(h);
    let tokens = min(h.z, budget);
    let need = ceil_div(ctx + tokens, cfg.block_size) - ceil_div(ctx, cfg.block_size);
    if (need > cfg.kv_blocks - rep.used) { continue; }
    schedule_step(s, h, need, tokens, false);
    budget -= tokens;
  }
  _ = admit_chunks(budget, now);
  if (batch_size > 0u) { return false; }
  _ = before_decode();
  schedule_running(0xffffffffu);
  return !sr_preempted && sr_all_decodes;
}

// Settles the open replica's previous batch in one walk of its running list, ahead of a batch
// formation that does not walk the list in order (arrival-pass), that compares settled requests
// (displace_for_waiting), or whose requests change keys as they generate (rekey_after_tokens: they
// leave the list during the walk and are inserted at their new place after it, as rekeyRunning does).
fn settle_running() {
  if (!settling) { return; }
  var moved = NIL; // requests whose key changed, linked through LINKS
  // With prefix caching, completions release blocks in batch order: the batch's admitted requests
  // come after its running ones (chunked batching; arrival-pass too, as every waiting request's
  // index is above every running one's), so their completions wait for the walk's end.
  var deferred = NIL;
  var deferred_tail = NIL;
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL;) {
    let s = m - 1u;
    let visited = visit_running(m);
    var h = settle_member(s, visited);
    m = link_hi(h);
    if (settle_completes && lane_caches() && (flags_of(visited) & F_BATCH_ADMITTED) != 0u) {
      running_unlink(s, h);
      slot_put(REC_HOT, s, with_links(h, NIL, NIL));
      if (deferred_tail == NIL) {
        deferred = s + 1u;
      } else {
        let th = slot_rec(REC_HOT, deferred_tail - 1u);
        slot_put(REC_HOT, deferred_tail - 1u, with_links(th, s + 1u, NIL));
      }
      deferred_tail = s + 1u;
    } else if (settle_completes) {
      settle_completion(s, h);
    } else if (has_rekey_after_tokens() && (flags_of(h) & F_RECENT) != 0u && rekeys(s, h)) {
      running_remove(s, h);
      slot_put(REC_HOT, s, with_links(h, moved, NIL));
      moved = s + 1u;
    } else {
      slot_put(REC_HOT, s, h);
    }
  }
  tick(); // loop entry
  loop {
    tick();
    if (moved == NIL) { break; }
    let s = moved - 1u;
    let h = slot_rec(REC_HOT, s);
    moved = link_hi(h);
    slot_put(REC_HOT, s, running_insert(s, h, slot_rec(REC_ID, s)));
  }
  tick(); // loop entry
  loop {
    tick();
    if (deferred == NIL) { break; }
    let s = deferred - 1u;
    deferred = link_hi(slot_rec(REC_HOT, s));
    complete_cached(s, slot_rec(REC_ID, s));
  }
  end_settling();
}

// Whether running request s (hot record h), which just generated tokens, gets a new key (stored).
fn rekeys(s: u32, h: vec4<u32>) -> bool {
  let id = slot_rec(REC_ID, s);
  let key = rekey_after_tokens(id.x, id.y, h.w);
  if (key == id.y) { return false; }
  slot_put(REC_ID, s, vec4<u32>(id.x, key, id.z, id.w));
  return true;
}

// Gives running request s (hot record h) its next step of `tokens` tokens taking `need` blocks: a
// prompt chunk (counted in CTX at once) or a decode; the fold's residues while `gather_residue`.
fn schedule_step(s: u32, h_in: vec4<u32>, need: u32, tokens: u32, gather_residue: bool) {
  var h = h_in;
  let ctx = ctx_of(h);
  let in_prefill = h.z > 0u;
  rep.used += need;
  if (lane_caches()) { cache_evict_to(rep_index, cfg.kv_blocks - rep.used); }
  if (in_prefill) {
    h = with_ctx_flags(h, ctx + tokens, flags_of(h) | F_BATCH_PREFILL);
    h.z -= tokens;
    if (h.z == 0u) { count_producer(s, h.w, ctx + tokens); }
    if (has_preempt_first()) { note_chunk(s, tokens); }
  } else {
    h = with_ctx_flags(h, ctx, flags_of(h) | F_BATCH_DECODE);
    count_producer(s, h.w, ctx + 1u);
    if (has_tokens_until_rekey()) {
      let id = slot_rec(REC_ID, s);
      until_rekey = min(until_rekey, tokens_until_rekey(id.x, id.y, h.w));
    }
    if (U.fast_forward != 0u && gather_residue) { add_residue(ctx % cfg.block_size); }
  }
  slot_put(REC_HOT, s, h);
  join_batch(ctx, tokens, in_prefill);
}

// TensorRT-LLM MAX_UTILIZATION (twin of batching/arrival-pass.ts): one pass over running and waiting
// requests merged in arrival (index) order; a request whose blocks are not free pauses the last
// started request at or after it, and requests from there on sit this iteration out.
fn build_arrival_pass(r: u32, now: u32) -> bool {
  settle_running();
  var budget = cfg.max_batched_tokens;
  var cut = 0xffffffffu; // requests from this index on sit out this iteration
  var m = rep.r_head; // next running request not yet scheduled
  var paused = false;
  var admitted = false;
  var all_decodes = true;
  var scheduled = 0u;
  loop {
    tick();
    if (budget == 0u) { break; }
    var from_running = false;
    var s = 0u;
    var index = 0u;
    if (m != NIL) {
      s = m - 1u;
      index = slot_rec(REC_ID, s).x;
      from_running = rep.w_root == NIL || index < slot_rec(REC_ID, rep.w_root - 1u).x;
    }
    if (!from_running) {
      if (rep.w_root == NIL) { break; }
      s = rep.w_root - 1u;
      index = slot_rec(REC_ID, s).x;
    }
    if (index >= cut) { break; }
    if (!from_running && rep.running >= cfg.max_num_seqs) { break; }
    let h = slot_rec(REC_HOT, s);
    var tokens = 1u;
    var need = 0u;
    if (from_running) {
      let ctx = ctx_of(h);
      if (h.z > 0u) { tokens = min(h.z, budget); }
      need = ceil_div(ctx + tokens, cfg.block_size) - ceil_div(ctx, cfg.block_size);
    } else {
      // A waiting request starts after its cached prefix and takes that prefix's evictable entries.
      tokens = min(head_prefill(s, h), budget);
      need = head_blocks(tokens);
    }
    let reserve = select(cfg.watermark_blocks, 0u, from_running);
    if (rep.used + need + reserve <= cfg.kv_blocks) {
      if (from_running) {
        m = link_hi(h);
        schedule_step(s, h, need, tokens, all_decodes);
        if (h.z > 0u) { all_decodes = false; }
        scheduled += 1u;
      } else {
        admit(s, h, tokens, need, now); // joins the running list before m (a lower index)
        admitted = true;
      }
      budget -= tokens;
      continue;
    }
    // Pause the last started request, unless it comes before this one or is scheduled already.
    let last = rep.r_tail;
    if (last == NIL) { break; }
    let lh = slot_rec(REC_HOT, last - 1u);
    let last_index = slot_rec(REC_ID, last - 1u).x;
    if (last_index < index || (flags_of(lh) & (F_BATCH_DECODE | F_BATCH_PREFILL)) != 0u) { break; }
    cut = last_index;
    if (last == m) { m = NIL; }
    running_remove(last - 1u, lh);
    preempt(last - 1u, lh);
    paused = true;
  }
  return !paused && !admitted && all_decodes && scheduled == rep.running;
}
