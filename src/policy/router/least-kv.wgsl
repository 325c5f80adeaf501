// Twin of least-kv.ts: argminRotating over (KV blocks in use, outstanding), scan starting at req mod R.
fn route(req: u32) -> u32 {
  let start = req % REPLICAS;
  var best = start;
  var bestP = rep_used_blocks(best);
  var bestS = rep_outstanding(best);
  tick();
  for (var i = 1u; i < REPLICAS; i++) {
    tick(); // engine's loop-iteration count (see engine.wgsl)
    var r = start + i;
    if (r >= REPLICAS) { r -= REPLICAS; }
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
