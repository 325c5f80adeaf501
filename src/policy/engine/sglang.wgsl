// Twin of sglang.ts (fcfs; lpm orders the queue as fcfs does without prefix caching, which GPU
// lanes never have). cfg.scheduler_params (sglang.ts gpuParams): x = initial ratio (Q16), y = its
// floor, z = decay per decode iteration | retractDecodeSteps << 17, w = clipMaxNewTokens |
// (maxTokens is max-model-len) << 24.
//
// The new-token ratio lives in the replica's SCHEDULER_WORD as ratio - initial ratio (wrapping), so
// that the zeroed word is the initial ratio. Keys are queueing times (lane times, moved by rebase);
// the victim rule meets a stored key, so pipelines with this scheduler keep chunks in AUX.

const SGLANG_ONE: u32 = 65536u;

fn priority_key_sglang(prompt: u32, predicted: u32, index: u32) -> u32 {
  return arrival_time(index); // the arrival instant is its queueing time
}

fn requeue_key_sglang(index: u32, output_left: u32) -> u32 {
  return lane_now;
}

fn time_keys_sglang() -> bool { return true; }
fn running_appends_sglang() -> bool { return true; }
fn no_fold_with_waiting_sglang() -> bool { return true; }

// Retraction victim: fewest generated tokens, then longest prompt.
fn preempt_first_sglang(s_a: u32, h_a: vec4<u32>, s_b: u32, h_b: vec4<u32>) -> bool {
  let a = slot_rec(REC_ID, s_a).x;
  let b = slot_rec(REC_ID, s_b).x;
  let ga = trace_output(a) - h_a.w;
  let gb = trace_output(b) - h_b.w;
  if (ga != gb) { return ga < gb; }
  return trace_prompt(a) > trace_prompt(b);
}

fn max_tokens_sglang(index: u32) -> u32 {
  if ((cfg.scheduler_params.w >> 24u) != 0u) { return cfg.max_model_len - trace_prompt(index); }
  return trace_output(index);
}

// clippedNew: min(max_tokens - generated, clipMaxNewTokens), at least 0.
fn clipped_new_sglang(index: u32, output_left: u32) -> u32 {
  let generated = trace_output(index) - output_left;
  let max_tokens = max_tokens_sglang(index);
  return min(select(0u, max_tokens - generated, max_tokens > generated), cfg.scheduler_params.w & 0xffffffu);
}

fn ratio_sglang() -> u32 { return cfg.scheduler_params.x + rep_get(R_SCHEDULER_WORD, rep_index); }
fn set_ratio_sglang(ratio: u32) { rep_set(R_SCHEDULER_WORD, rep_index, ratio - cfg.scheduler_params.x); }

// max(floor, ratio - iterations x decay).
fn decayed_ratio_sglang(ratio: u32, iterations: u32) -> u32 {
  let floor = cfg.scheduler_params.y;
  let decay = cfg.scheduler_params.z & 0x1ffffu;
  if (ratio <= floor) { return floor; }
  if (decay == 0u) { return ratio; }
  if (iterations >= ceil_div(ratio - floor, decay)) { return floor; }
  return ratio - iterations * decay;
}

fn scheduler_word_after_folds_sglang(word: u32, iterations: u32) -> u32 {
  return decayed_ratio_sglang(cfg.scheduler_params.x + word, iterations) - cfg.scheduler_params.x;
}

fn scheduler_word_idle_sglang(word: u32) -> u32 {
  return 0u; // the initial ratio
}

// ratioAdmission: tokens not reserved for the decoding requests' clipped remaining output; below
// zero, every request fails the comparison and charging keeps it below zero.
var<private> rem_tokens_sglang: u32;
var<private> rem_negative_sglang: bool;

fn admission_begin_sglang() -> bool {
  let ratio = ratio_sglang();
  var reserved = 0u;
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL;) {
    let s = m - 1u;
    let h = visit_running(m);
    m = link_hi(h);
    // Decoding: its prompt is prefilled, not by a chunk of this batch (CTX counts it already).
    if (h.z > 0u || (flags_of(h) & F_BATCH_PREFILL) != 0u) { continue; }
    let x = mul32x32(ratio, clipped_new_sglang(slot_rec(REC_ID, s).x, h.w));
    let part = (x.y << 16u) | (x.x >> 16u);
    reserved = select(reserved + part, 0xffffffffu, reserved > 0xffffffffu - part);
  }
  let free_tokens = (cfg.kv_blocks - rep.used) * cfg.block_size;
  rem_negative_sglang = reserved > free_tokens;
  rem_tokens_sglang = select(free_tokens - reserved, 0u, rem_negative_sglang);
  return true;
}

fn admission_admits_sglang(s: u32, h: vec4<u32>, tokens: u32, force: bool) -> bool {
  let extend = head_prefill(s, h); // extend_input_len: the prefill target past the cached prefix
  let total = extend + clipped_new_sglang(slot_rec(REC_ID, s).x, h.w);
  if (!force && (rem_negative_sglang || total >= rem_tokens_sglang)) { return false; }
  let charge = select(total, tokens, tokens < extend);
  if (rem_negative_sglang || charge > rem_tokens_sglang) {
    rem_negative_sglang = true;
  } else {
    rem_tokens_sglang -= charge;
  }
  return true;
}

// retractBeforeDecode: the ratio decays if the decode step's blocks are free; otherwise requests
// are retracted until the free tokens cover retractDecodeSteps per remaining request (one stays),
// and the ratio jumps to min(1, (generated + retractDecodeSteps x n) / sum of max_tokens).
fn before_decode_sglang() -> bool {
  var need = 0u;
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL;) {
    let h = visit_running(m);
    m = link_hi(h);
    if (h.z > 0u) { continue; }
    let ctx = ctx_of(h);
    need += ceil_div(ctx + 1u, cfg.block_size) - ceil_div(ctx, cfg.block_size);
  }
  if (cfg.kv_blocks - rep.used >= need) {
    set_ratio_sglang(decayed_ratio_sglang(ratio_sglang(), 1u));
    return true;
  }
  let steps = cfg.scheduler_params.z >> 17u;
  loop {
    tick();
    if (rep.running <= 1u) { break; }
    let v = victim_while_at(NIL - 1u);
    let vh = slot_rec(REC_HOT, v);
    running_remove(v, vh);
    preempt(v, vh);
    if ((cfg.kv_blocks - rep.used) * cfg.block_size >= steps * rep.running) { break; }
  }
  var decoded = vec2<u32>(0u);
  var max_new = vec2<u32>(0u);
  tick(); // loop entry
  for (var m = rep.r_head; m != NIL;) {
    let s = m - 1u;
    let h = visit_running(m);
    m = link_hi(h);
    let index = slot_rec(REC_ID, s).x;
    decoded = add64(decoded, vec2<u32>(trace_output(index) - h.w, 0u));
    max_new = add64(max_new, vec2<u32>(max_tokens_sglang(index), 0u));
  }
  let a = add64(decoded, vec2<u32>(steps * rep.running, 0u));
  set_ratio_sglang(q16_ratio_sglang(a, max_new));
  return true;
}

// min(ONE, floor(a x 2^16 / b)) for b > 0, by long division (a < b: 16 quotient bits).
fn q16_ratio_sglang(a: vec2<u32>, b: vec2<u32>) -> u32 {
  if (!less64(a, b)) { return SGLANG_ONE; }
  var r = a;
  var q = 0u;
  tick(); // loop entry
  for (var i = 0u; i < 16u; i++) {
    tick();
    r = add64(r, r); // below 2b, which is below 2^63
    q = q << 1u;
    if (!less64(r, b)) {
      r = sub64(r, b);
      q |= 1u;
    }
  }
  return q;
}
