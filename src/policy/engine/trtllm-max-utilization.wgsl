// Twin of trtllm-max-utilization.ts: arrival order (key 0, ties by request index); its batching is
// build_arrival_pass in shaders/engine/batch.wgsl.
fn priority_key_trtllm_max_utilization(prompt: u32, predicted: u32, index: u32) -> u32 {
  return 0u;
}
