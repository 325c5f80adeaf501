// Twin of power-of-two.ts: two distinct seeded replicas, the one with fewer outstanding (first on a tie).
fn route_power_of_two(req: u32) -> u32 {
  if (cfg.replicas == 1u) { return 0u; }
  let first = draw(cfg.seed, STREAM_ROUTER_FIRST, req) % cfg.replicas;
  var second = draw(cfg.seed, STREAM_ROUTER_SECOND, req) % (cfg.replicas - 1u);
  if (second >= first) { second += 1u; }
  if (rep_outstanding(second) < rep_outstanding(first)) { return second; }
  return first;
}
