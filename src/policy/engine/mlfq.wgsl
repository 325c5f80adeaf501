// Twin of mlfq.ts. cfg.scheduler_params = (levels | quantumGrowth << 8 | preemptive << 16,
// baseQuantum, promptTokensPerQuantumToken, -) (mlfq.ts gpuParams).
//
// A request's level is its key (the slot's KEY word). Its level start (generated tokens when it
// entered the level) is not stored: a request is demoted exactly when it has generated its level's
// quantum (a fold stops there), so it leaves level L when it has generated the quanta of the levels
// from its skip-join level to L.

const MLFQ_QUANTUM_CAP: u32 = 1073741824u; // 2^30, as quanta() caps them
const MLFQ_NEVER: u32 = 0x80000000u; // above any output length (below 2^24)

fn last_level_mlfq() -> u32 { return (cfg.scheduler_params.x & 0xffu) - 1u; }

// The quantum after q: min(2^30, q x quantumGrowth), without overflowing u32.
fn next_quantum_mlfq(q: u32) -> u32 {
  let growth = (cfg.scheduler_params.x >> 8u) & 0xffu;
  if (q > MLFQ_QUANTUM_CAP / growth) { return MLFQ_QUANTUM_CAP; }
  return min(q * growth, MLFQ_QUANTUM_CAP);
}

// Skip-join: the highest level whose quantum covers ceil(prompt / promptTokensPerQuantumToken).
fn join_level_mlfq(prompt: u32) -> u32 {
  let cost = ceil_div(prompt, cfg.scheduler_params.z);
  let last = last_level_mlfq();
  var level = 0u;
  var q = cfg.scheduler_params.y;
  tick(); // loop entry (the engine's loop-iteration count, shaders/engine/limiter.wgsl)
  loop {
    tick();
    if (level >= last || q >= cost) { break; }
    level += 1u;
    q = next_quantum_mlfq(q);
  }
  return level;
}

// Generated tokens at which request `index` leaves `level` (capped at MLFQ_NEVER).
fn level_end_mlfq(index: u32, level: u32) -> u32 {
  let join = join_level_mlfq(trace_prompt(index));
  var q = cfg.scheduler_params.y;
  var end = 0u;
  tick(); // loop entry
  for (var l = 0u; l <= level; l++) {
    tick();
    if (l >= join) { end = min(end + q, MLFQ_NEVER); }
    q = next_quantum_mlfq(q);
  }
  return end;
}

fn priority_key_mlfq(prompt: u32, predicted: u32, index: u32) -> u32 {
  return join_level_mlfq(prompt);
}

fn rekey_after_tokens_mlfq(index: u32, key: u32, output_left: u32) -> u32 {
  if (key == last_level_mlfq()) { return key; }
  let generated = trace_output(index) - output_left;
  return select(key, key + 1u, generated >= level_end_mlfq(index, key));
}

fn tokens_until_rekey_mlfq(index: u32, key: u32, output_left: u32) -> u32 {
  if (key == last_level_mlfq()) { return 0xffffffffu; }
  return level_end_mlfq(index, key) - (trace_output(index) - output_left);
}

// A waiting head that cannot start displaces the victim (the last running request) of a lower
// level (a larger key), when `preemptive`.
fn displaces_mlfq(s_head: u32, h_head: vec4<u32>, s_v: u32, h_v: vec4<u32>) -> bool {
  let preemptive = (cfg.scheduler_params.x >> 16u) != 0u;
  return preemptive && slot_rec(REC_ID, s_v).y > slot_rec(REC_ID, s_head).y;
}
