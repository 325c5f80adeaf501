// Twin of random.ts: uniform choice from draw(seed, routerFirst, request index).
fn route_random(req: u32) -> u32 {
  return draw(cfg.seed, STREAM_ROUTER_FIRST, req) % cfg.replicas;
}
