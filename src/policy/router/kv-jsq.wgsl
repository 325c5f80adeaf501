// Twin of kv-jsq.ts: argminRotating over (KV blocks committed, outstanding), scan starting at req mod R.
fn route_kv_jsq(req: u32) -> u32 {
  let start = req % cfg.replicas;
  var best = start;
  let first = replica_view(best);
  var best_committed = committed_blocks(first.used_blocks, rep_get(R_QUEUED_PREFILL, best), 0u);
  var best_outstanding = first.outstanding;
  tick();
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let v = replica_view(r);
    let committed = committed_blocks(v.used_blocks, rep_get(R_QUEUED_PREFILL, r), 0u);
    if (committed < best_committed || (committed == best_committed && v.outstanding < best_outstanding)) {
      best = r;
      best_committed = committed;
      best_outstanding = v.outstanding;
    }
  }
  return best;
}
