// Twin of vllm-fcfs.ts: arrival order (key 0, ties by request index).
fn priority_key_vllm_fcfs(prompt: u32, predicted: u32, index: u32) -> u32 {
  return 0u;
}
