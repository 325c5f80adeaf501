// Twin of chunked-prefill.ts: arrival order, one token budget per iteration with chunked prompts.
const BATCHING_CHUNKED: bool = true;
fn priority_key(prompt: u32, output: u32, index: u32) -> u32 {
  return 0u;
}
