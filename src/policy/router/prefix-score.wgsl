// Twin of prefix-score.ts over prefix-index.wgsl: the largest prefixWeight x floor(1000 x matched
// units / units) + queueWeight x queue score + kvWeight x KV score on the router's views, ties by
// the scan from req mod R (each term at most 1000 x 1000: the sum fits u32).
// cfg.router_params = (prefixWeight, queueWeight, kvWeight, -).
fn prefix_score(r: u32, units: vec2<u32>, range: vec2<u32>) -> u32 {
  let w = cfg.router_params;
  let v = prefix_view(r);
  var prefix = 0u;
  if (units.y > 0u) { prefix = per_mille(index_match(r, units), units.y); }
  var queue = 1000u;
  if (range.y != range.x) { queue = per_mille(range.y - v.outstanding, range.y - range.x); }
  let kv = 1000u - per_mille(v.used_blocks, cfg.kv_blocks);
  return w.x * prefix + w.y * queue + w.z * kv;
}

fn route_prefix_score(req: u32) -> u32 {
  prefix_route_begin(req);
  let start = req % cfg.replicas;
  let range = prefix_outstanding_range();
  let units = request_units(req);
  var best = start;
  var best_score = prefix_score(start, units, range);
  tick(); // loop entry
  for (var i = 1u; i < cfg.replicas; i++) {
    tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
    var r = start + i;
    if (r >= cfg.replicas) { r -= cfg.replicas; }
    let score = prefix_score(r, units, range);
    if (score > best_score) {
      best = r;
      best_score = score;
    }
  }
  index_record(best, units);
  return best;
}
