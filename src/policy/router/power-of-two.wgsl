// Twin of power-of-two.ts: two distinct seeded replicas, the one with fewer outstanding (first on a tie).
fn route(req: u32) -> u32 {
  if (REPLICAS == 1u) { return 0u; }
  let first = draw(SEED, STREAM_ROUTER_FIRST, req) % REPLICAS;
  var second = draw(SEED, STREAM_ROUTER_SECOND, req) % (REPLICAS - 1u);
  if (second >= first) { second += 1u; }
  if (rep_outstanding(second) < rep_outstanding(first)) { return second; }
  return first;
}
