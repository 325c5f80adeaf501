// Twin of least-kv.ts: argminRotating over (KV blocks in use, outstanding), scan starting at req mod R.
fn route_least_kv(req: u32) -> u32 {
  let start = req % cfg.replicas;
  var best = start;
  var bestP = rep_used_blocks(best);
  var bestS = rep_outstanding(best);
  tick();
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let p = rep_used_blocks(r);
    let s = rep_outstanding(r);
    if (p < bestP || (p == bestP && s < bestS)) {
      best = r;
      bestP = p;
      bestS = s;
    }
  }
  return best;
}
