// Twin of sjf.ts: shortest prompt first, prefill-first batching.
const BATCHING_CHUNKED: bool = false;
fn priority_key(prompt: u32, output: u32, index: u32) -> u32 {
  return prompt;
}
