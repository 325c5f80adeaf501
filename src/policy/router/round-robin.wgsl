// Twin of round-robin.ts: the n-th routed request goes to replica n mod R.
fn route_round_robin(req: u32) -> u32 {
  return lane_routed() % cfg.replicas;
}
