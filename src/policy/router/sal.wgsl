// Twin of sal.ts: argminRotating over the anticipated load prefillWeight x queued prompt tokens +
// decodeWeight x predicted remaining output tokens + kvPressureWeight x max(0, blocks committed with
// this prompt - threshold), a u64; scan starting at req mod R. cfg.router_params = (prefillWeight,
// decodeWeight, kvPressureWeight, threshold blocks) (sal.ts gpuParams).
fn sal_load(r: u32, prompt: u32) -> vec2<u32> {
  let w = cfg.router_params;
  let t = token_view(r);
  let committed = committed_blocks(replica_view(r).used_blocks, t.queued_prefill, prompt);
  let pressure = select(0u, committed - w.w, committed > w.w);
  return add64(add64(mul32x32(w.x, t.queued_prefill), mul32x32(w.y, t.decode)), mul32x32(w.z, pressure));
}

fn route_sal(req: u32) -> u32 {
  let prompt = trace_prompt(req);
  let start = req % cfg.replicas;
  var best = start;
  var best_load = sal_load(best, prompt);
  tick();
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let load = sal_load(r, prompt);
    if (less64(load, best_load)) {
      best = r;
      best_load = load;
    }
  }
  return best;
}
