// Building an iteration's batch: admission, block allocation, preemption, and the two batching
// families. Twin of buildPrefillFirst, buildChunked, scheduleRunning, admit and preempt in
// src/sim/cpu/simulator.ts.

fn allocate(r: u32, s: u32, blocks: u32) {
  slot_set(S_BLOCKS, s, slot_get(S_BLOCKS, s) + blocks);
  rep_set(R_USED, r, rep_get(R_USED, r) + blocks);
}

fn admit(r: u32, s: u32, blocks: u32, now: u32) {
  allocate(r, s, blocks);
  running_insert(r, s);
  let flags = slot_get(S_FLAGS, s);
  if ((flags & F_ADMITTED) == 0u) {
    slot_set(S_FLAGS, s, flags | F_ADMITTED);
    hadd(H_QUEUE, since_arrival(slot_get(S_INDEX, s), now), 1u);
  }
}

// Batch totals, summed as requests join the batch (start_iteration would otherwise walk it again).
var<private> batch_size: u32;
var<private> batch_prefill_tokens: u32;
var<private> batch_decodes: u32;
var<private> batch_context: u32;

// Returns the running-list successor (record C holds the links), for walks.
fn add_to_batch(s: u32, ctx: u32, prefill_target: u32, tokens: u32, produces: bool) -> u32 {
  batch_size += 1u;
  if (ctx < prefill_target) { batch_prefill_tokens += tokens; } else { batch_decodes += 1u; }
  batch_context += ctx + tokens;
  var c = slot_rec(REC_C, s);
  c.x = (c.x & ~F_PRODUCES) | select(0u, F_PRODUCES, produces);
  c.y = tokens;
  slot_put(REC_C, s, c);
  return c.z;
}

// Recompute preemption: drop all KV, wait again to prefill prompt + generated.
fn preempt(r: u32, s: u32) {
  rep_set(R_USED, r, rep_get(R_USED, r) - slot_get(S_BLOCKS, s));
  slot_set(S_BLOCKS, s, 0u);
  slot_set(S_CTX, s, 0u);
  slot_set(S_PREFILL_TARGET, s, trace_prompt(slot_get(S_INDEX, s)) + slot_get(S_GENERATED, s));
  let flags = slot_get(S_FLAGS, s);
  if ((flags & F_PREEMPTED) == 0u) {
    cnt_add(C_PREEMPTED_REQUESTS, 1u);
    slot_set(S_FLAGS, s, flags | F_PREEMPTED);
  }
  cnt_add(C_PREEMPTIONS, 1u);
  waiting_insert(r, s);
}

// schedule_running's results (private variables rather than a returned struct).
var<private> sr_preempted: bool;
var<private> sr_budget: u32;
var<private> sr_all_decodes: bool;
var<private> sr_scheduled: u32;

// Running requests in priority order each get their next step within the budget; a step that needs
// a block when none is free preempts the last running request not yet scheduled, possibly itself.
fn schedule_running(r: u32, budget_in: u32) {
  var preempted = false;
  var budget = budget_in;
  var all_decodes = true;
  var scheduled = 0u;
  var m = rep_get(R_R_HEAD, r);
  // The walk breaks out to preempt one victim and resumes at the same request, so the preemption
  // code runs once per preemption, not (masked, on llvmpipe) once per request.
  loop {
    tick();
    var s = 0u;
    var blocked = false;
    loop {
      tick();
      if (m == NIL || budget == 0u) { break; }
      count(W_VISITS, 1u);
      s = m - 1u;
      let ctx = slot_get(S_CTX, s);
      var b = slot_rec(REC_B, s);
      let prefill_target = b.x;
      let in_prefill = ctx < prefill_target;
      var tokens = 1u;
      if (in_prefill) { tokens = min(prefill_target - ctx, budget); }
      let need = ceil_div(ctx + tokens, cfg.block_size) - b.y;
      let used = rep_get(R_USED, r);
      if (used + need > cfg.kv_blocks) {
        blocked = true;
        break;
      }
      // allocate(), on the record already loaded
      b.y += need;
      slot_put(REC_B, s, b);
      rep_set(R_USED, r, used + need);
      if (in_prefill) { all_decodes = false; }
      budget -= tokens;
      scheduled += 1u;
      m = add_to_batch(s, ctx, prefill_target, tokens, !in_prefill || ctx + tokens == prefill_target);
    }
    if (!blocked) { break; }
    let victim = rep_get(R_R_TAIL, r) - 1u;
    running_remove(r, victim);
    preempt(r, victim);
    preempted = true;
    if (victim == s) { break; }
  }
  sr_preempted = preempted;
  sr_budget = budget;
  sr_all_decodes = all_decodes;
  sr_scheduled = scheduled;
}

// vLLM v0: whole prompts while they fit, else one decode step for every running request. Returns
// whether the batch is pure decode (fast-forward may fold it).
fn build_prefill_first(r: u32, now: u32) -> bool {
  var tokens = 0u;
  var admitted = false;
  loop {
    tick();
    let h = rep_get(R_W_HEAD, r);
    if (h == NIL) { break; }
    let s = h - 1u;
    let need = slot_get(S_PREFILL_TARGET, s);
    let need_blocks = ceil_div(need, cfg.block_size);
    if (rep_get(R_RUNNING, r) >= cfg.max_num_seqs) { break; }
    if (tokens + need > cfg.max_batched_tokens) { break; }
    if (rep_get(R_USED, r) + need_blocks + cfg.watermark_blocks > cfg.kv_blocks) { break; }
    waiting_remove(r, s);
    admit(r, s, need_blocks, now);
    _ = add_to_batch(s, 0u, need, need, true); // waiting requests hold no KV: ctx 0
    tokens += need;
    admitted = true;
  }
  if (admitted) { return false; }
  schedule_running(r, 0xffffffffu);
  return !sr_preempted;
}

// vLLM v1 / Sarathi: running requests first within the budget, then new prompt chunks.
fn build_chunked(r: u32, now: u32) -> bool {
  schedule_running(r, cfg.max_batched_tokens);
  if (sr_preempted) { return false; }
  var budget = sr_budget;
  var admitted = false;
  loop {
    tick();
    let h = rep_get(R_W_HEAD, r);
    if (h == NIL || budget == 0u || rep_get(R_RUNNING, r) >= cfg.max_num_seqs) { break; }
    let s = h - 1u;
    let prefill_target = slot_get(S_PREFILL_TARGET, s);
    let chunk = min(prefill_target, budget);
    let need_blocks = ceil_div(chunk, cfg.block_size);
    if (rep_get(R_USED, r) + need_blocks + cfg.watermark_blocks > cfg.kv_blocks) { break; }
    waiting_remove(r, s);
    admit(r, s, need_blocks, now);
    _ = add_to_batch(s, 0u, prefill_target, chunk, chunk == prefill_target);
    budget -= chunk;
    admitted = true;
  }
  return !admitted && sr_all_decodes && sr_scheduled == rep_get(R_RUNNING, r);
}
