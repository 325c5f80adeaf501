// Twin of token-jsq.ts: argminRotating over queued prompt + predicted remaining output tokens (a u64
// sum), scan starting at req mod R.
fn outstanding_tokens(r: u32) -> vec2<u32> {
  let t = token_view(r);
  return add64(vec2<u32>(t.queued_prefill, 0u), vec2<u32>(t.decode, 0u));
}

fn route_token_jsq(req: u32) -> u32 {
  let start = req % cfg.replicas;
  var best = start;
  var best_tokens = outstanding_tokens(best);
  tick();
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let tokens = outstanding_tokens(r);
    if (less64(tokens, best_tokens)) {
      best = r;
      best_tokens = tokens;
    }
  }
  return best;
}
