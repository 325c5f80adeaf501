// Twin of least-outstanding.ts: argminRotating over outstanding requests, scan starting at req mod R.
fn route_least_outstanding(req: u32) -> u32 {
  let start = req % cfg.replicas;
  var best = start;
  var bestP = rep_outstanding(best);
  tick();
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let p = rep_outstanding(r);
    if (p < bestP) {
      best = r;
      bestP = p;
    }
  }
  return best;
}
