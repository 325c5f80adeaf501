// Twin of prefix-affinity.ts over prefix-index.wgsl: when outstanding requests (as the router's
// views show them) are imbalanced, the fewest outstanding; else the longest remembered prefix (ties:
// fewer outstanding, then the scan) if its tokens cover more than the threshold, else the fewest
// remembered units; scans start at req mod R. Products that can pass u32 are compared as u64.
// cfg.router_params = (cacheThresholdPermille, balanceAbsThreshold, balanceRelThresholdPermille, -).
fn route_prefix_affinity(req: u32) -> u32 {
  prefix_route_begin(req);
  let w = cfg.router_params;
  let start = req % cfg.replicas;
  let range = prefix_outstanding_range();
  let units = request_units(req);
  var chosen = start;
  if (range.y - range.x > w.y && less64(mul32x32(w.z, range.x), mul32x32(range.y, 1000u))) {
    var best_load = prefix_view(start).outstanding;
    tick(); // loop entry
    for (var i = 1u; i < cfg.replicas; i++) {
      tick(); // the engine's loop-iteration count (shaders/engine/limiter.wgsl)
      var r = start + i;
      if (r >= cfg.replicas) { r -= cfg.replicas; }
      let load = prefix_view(r).outstanding;
      if (load < best_load) {
        chosen = r;
        best_load = load;
      }
    }
  } else {
    var best = start;
    var best_match = index_match(start, units);
    var best_load = prefix_view(start).outstanding;
    tick(); // loop entry
    for (var i = 1u; i < cfg.replicas; i++) {
      tick();
      var r = start + i;
      if (r >= cfg.replicas) { r -= cfg.replicas; }
      let m = index_match(r, units);
      let load = prefix_view(r).outstanding;
      if (m > best_match || (m == best_match && load < best_load)) {
        best = r;
        best_match = m;
        best_load = load;
      }
    }
    let prompt = trace_prompt(req);
    // min(match x unit tokens, prompt), without a product that could wrap.
    var matched = 0u;
    if (best_match > 0u) {
      matched = prompt;
      if (best_match < ceil_div(prompt, pr.unit_tokens)) { matched = best_match * pr.unit_tokens; }
    }
    if (less64(mul32x32(w.x, prompt), mul32x32(matched, 1000u))) {
      chosen = best;
    } else {
      var fewest = index_size(start);
      tick(); // loop entry
      for (var i = 1u; i < cfg.replicas; i++) {
        tick();
        var r = start + i;
        if (r >= cfg.replicas) { r -= cfg.replicas; }
        let size = index_size(r);
        if (size < fewest) {
          chosen = r;
          fewest = size;
        }
      }
    }
  }
  index_record(chosen, units);
  return chosen;
}
