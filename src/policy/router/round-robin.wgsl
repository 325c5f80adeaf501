// Twin of round-robin.ts: the n-th routed request goes to replica n mod R.
fn route(req: u32) -> u32 {
  return lane_routed() % REPLICAS;
}
