// Twin of least-outstanding.ts: argminRotating over outstanding requests, scan starting at req mod R.
fn route(req: u32) -> u32 {
  let start = req % REPLICAS;
  var best = start;
  var bestP = rep_outstanding(best);
  tick();
  for (var i = 1u; i < REPLICAS; i++) {
    tick(); // engine's loop-iteration count (see engine.wgsl)
    var r = start + i;
    if (r >= REPLICAS) { r -= REPLICAS; }
    let p = rep_outstanding(r);
    if (p < bestP) {
      best = r;
      bestP = p;
    }
  }
  return best;
}
