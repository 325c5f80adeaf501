// Twin of least-kv.ts: argminRotating over (KV blocks in use, outstanding), scan starting at req mod R.
fn route_least_kv(req: u32) -> u32 {
  let start = req % cfg.replicas;
  var best = start;
  let first = replica_view(best);
  var best_used = first.used_blocks;
  var best_outstanding = first.outstanding;
  tick();
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let v = replica_view(r);
    if (v.used_blocks < best_used || (v.used_blocks == best_used && v.outstanding < best_outstanding)) {
      best = r;
      best_used = v.used_blocks;
      best_outstanding = v.outstanding;
    }
  }
  return best;
}
