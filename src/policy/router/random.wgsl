// Twin of random.ts: uniform choice from draw(seed, routerFirst, request index).
fn route(req: u32) -> u32 {
  return draw(SEED, STREAM_ROUTER_FIRST, req) % REPLICAS;
}
