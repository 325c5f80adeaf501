// Building an iteration's batch on the open replica: admission, block allocation, preemption,
// and the two batching families. Twin of buildPrefillFirst, buildChunked, scheduleRunning, admit
// and preempt in src/sim/cpu/simulator.ts.
//
// A request holds ceil(ctx / blockSize) blocks. A prefill chunk is counted in CTX when it is
// scheduled (F_BATCH_PREFILL), so the blocks allocated for it match at once; a decode step is
// counted at the iteration's end (F_BATCH_DECODE), since a fold may add more than one.

// Batch totals, summed as requests join the batch.
var<private> batch_size: u32;
var<private> batch_prefill_tokens: u32;
var<private> batch_decodes: u32;
var<private> batch_context: u32;
// The fold's inputs, gathered while the batch can still be pure decode: iterations until the
// first decode completes, and running requests by context mod block size (residue table).
var<private> batch_max_k: u32;

fn join_batch(ctx_before: u32, tokens: u32, prefill: bool) {
  batch_size += 1u;
  if (prefill) { batch_prefill_tokens += tokens; } else { batch_decodes += 1u; }
  batch_context += ctx_before + tokens;
}

// Admits the waiting head (slot s, hot record h) with a first chunk of `chunk` tokens and `blocks` blocks.
fn admit(s: u32, h: vec4<u32>, chunk: u32, blocks: u32, now: u32) {
  waiting_pop(h);
  rep.used += blocks;
  let id = slot_rec(REC_ID, s);
  var flags = flags_of(h);
  if ((flags & F_ADMITTED) == 0u) {
    flags |= F_ADMITTED;
    hadd(H_QUEUE, since_arrival(id.x, now), 1u);
  }
  // Waiting requests hold no KV: ctx 0.
  var a = with_ctx_flags(h, chunk, flags | F_BATCH_PREFILL);
  a.z -= chunk;
  slot_put(REC_HOT, s, running_insert(s, a, id));
  join_batch(0u, chunk, true);
}

// Recompute preemption of slot s (hot record h, already off the running list): drop all KV, wait
// again to prefill prompt + generated.
fn preempt(s: u32, h: vec4<u32>) {
  let ctx = ctx_of(h);
  rep.used -= ceil_div(ctx, cfg.block_size);
  var flags = flags_of(h);
  let id = slot_rec(REC_ID, s);
  if ((flags & F_RECENT) != 0u) {
    // Its last token time is about to leave the replica's PREV_END: keep it in the slot.
    slot_put(REC_ID, s, vec4<u32>(id.x, id.y, id.z, rep.prev_end));
    flags &= ~F_RECENT;
  }
  if ((flags & F_PREEMPTED) == 0u) {
    cnt_add(C_PREEMPTED_REQUESTS, 1u);
    flags |= F_PREEMPTED;
  }
  cnt_add(C_PREEMPTIONS, 1u);
  let generated = trace_output(id.x) - h.w;
  var w = with_ctx_flags(h, 0u, flags);
  w.z = trace_prompt(id.x) + generated;
  waiting_insert(s, w);
}

// schedule_running's results (private variables rather than a returned struct).
var<private> sr_preempted: bool;
var<private> sr_budget: u32;
var<private> sr_all_decodes: bool;
var<private> sr_scheduled: u32;

fn residue_get(q: u32) -> u32 { count_load(); return reps[rep_ix(R_RESIDUE_RECORD + q / 4u, rep_index)][q % 4u]; }
fn residue_set(q: u32, v: u32) { count_store(); reps[rep_ix(R_RESIDUE_RECORD + q / 4u, rep_index)][q % 4u] = v; }

// Running requests in priority order each get their next step within the budget; a step that needs
// a block when none is free preempts the last running request not yet scheduled, possibly itself.
// While every step so far is a decode, the walk also gathers the fold's inputs.
fn schedule_running(budget_in: u32) {
  var preempted = false;
  var budget = budget_in;
  var all_decodes = true;
  var scheduled = 0u;
  batch_max_k = 0xffffffffu;
  if (FAST_FORWARD) {
    tick(); // loop entry (gallivm counts it too)
    for (var q = 0u; q < cfg.block_size; q += 4u) {
      tick();
      rep_put(R_RESIDUE_RECORD + q / 4u, rep_index, vec4<u32>(0u));
    }
  }
  var m = rep.r_head;
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
      var h = slot_rec(REC_HOT, s);
      let ctx = ctx_of(h);
      let left = h.z;
      let in_prefill = left > 0u;
      var tokens = 1u;
      if (in_prefill) { tokens = min(left, budget); }
      let need = ceil_div(ctx + tokens, cfg.block_size) - ceil_div(ctx, cfg.block_size);
      if (rep.used + need > cfg.kv_blocks) {
        blocked = true;
        break;
      }
      rep.used += need;
      if (in_prefill) {
        h = with_ctx_flags(h, ctx + tokens, flags_of(h) | F_BATCH_PREFILL);
        h.z = left - tokens;
        all_decodes = false;
      } else {
        h = with_ctx_flags(h, ctx, flags_of(h) | F_BATCH_DECODE);
        if (FAST_FORWARD && all_decodes) {
          batch_max_k = min(batch_max_k, h.w);
          let q = ctx % cfg.block_size;
          residue_set(q, residue_get(q) + 1u);
        }
      }
      slot_put(REC_HOT, s, h);
      join_batch(ctx, tokens, in_prefill);
      budget -= tokens;
      scheduled += 1u;
      m = link_hi(h);
    }
    if (!blocked) { break; }
    let victim = rep.r_tail - 1u;
    let vh = slot_rec(REC_HOT, victim);
    running_remove(victim, vh);
    preempt(victim, vh);
    preempted = true;
    if (victim == s) { break; }
    // Resume at request s: its links may have changed (it may be the new tail).
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
    if (rep.w_root == NIL) { break; }
    let s = rep.w_root - 1u;
    let h = slot_rec(REC_HOT, s);
    let need = h.z; // prefill target: the waiting request holds no KV
    let need_blocks = ceil_div(need, cfg.block_size);
    if (rep.running >= cfg.max_num_seqs) { break; }
    if (tokens + need > cfg.max_batched_tokens) { break; }
    if (rep.used + need_blocks + cfg.watermark_blocks > cfg.kv_blocks) { break; }
    admit(s, h, need, need_blocks, now);
    tokens += need;
    admitted = true;
  }
  if (admitted) { return false; }
  schedule_running(0xffffffffu);
  return !sr_preempted;
}

// vLLM v1 / Sarathi: running requests first within the budget, then new prompt chunks.
fn build_chunked(r: u32, now: u32) -> bool {
  schedule_running(cfg.max_batched_tokens);
  if (sr_preempted) { return false; }
  var budget = sr_budget;
  var admitted = false;
  loop {
    tick();
    if (rep.w_root == NIL || budget == 0u || rep.running >= cfg.max_num_seqs) { break; }
    let s = rep.w_root - 1u;
    let h = slot_rec(REC_HOT, s);
    let chunk = min(h.z, budget);
    let need_blocks = ceil_div(chunk, cfg.block_size);
    if (rep.used + need_blocks + cfg.watermark_blocks > cfg.kv_blocks) { break; }
    admit(s, h, chunk, need_blocks, now);
    budget -= chunk;
    admitted = true;
  }
  return !admitted && sr_all_decodes && sr_scheduled == rep.running;
}
