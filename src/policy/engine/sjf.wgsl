// Twin of sjf.ts: shortest prompt first (the key is the prompt length).
fn priority_key_sjf(prompt: u32, predicted: u32, index: u32) -> u32 {
  return prompt;
}
