// Twin of vllm-fcfs.ts: arrival order (key 0, ties by request index), prefill-first batching.
const BATCHING_CHUNKED: bool = false;
fn priority_key(prompt: u32, output: u32, index: u32) -> u32 {
  return 0u;
}
