// Twin of larry.ts; the predicted output is the lane predictor's (trace_predicted).
// cfg.scheduler_params = (agingTokensPerS, reservePermille, -, -).
//
// Its key is a u64, wider than the slot's KEY word, so the queues compute it from the trace row at
// each comparison (queue_key_larry; order_of() in queue.wgsl) and the slot's KEY word holds 0.

fn priority_key_larry(prompt: u32, predicted: u32, index: u32) -> u32 {
  return 0u;
}

// (prompt + predicted) x 10^6 + agingTokensPerS x arrival µs: gpuEligibility checks it stays below 2^64
// (and prompt + predicted below 2^32: larry.ts gpuHeadroom).
fn queue_key_larry(index: u32) -> vec2<u32> {
  let work = mul32x32(trace_prompt(index) + trace_predicted(index), 1000000u);
  return add64(work, mul64x32(trace_arrival(index), cfg.scheduler_params.x));
}

// reserveTarget's prompt + floor(reservePermille x predicted / 1000), split so no product exceeds
// u32 (gpuEligibility checks the target is below 2^31).
fn reserve_target_larry(index: u32) -> u32 {
  let permille = cfg.scheduler_params.y;
  let predicted = trace_predicted(index);
  return trace_prompt(index) + permille * (predicted / 1000u) + permille * (predicted % 1000u) / 1000u;
}

// preemptFirst: the victim is the request with the fewest computed tokens (cheapest to recompute).
fn preempt_first_larry(s_a: u32, h_a: vec4<u32>, s_b: u32, h_b: vec4<u32>) -> bool {
  return ctx_of(h_a) < ctx_of(h_b);
}
