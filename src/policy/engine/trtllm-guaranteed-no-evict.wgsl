// Twin of trtllm-guaranteed-no-evict.ts: arrival order (key 0); a new request starts only if the
// blocks to complete it fit beside every started request's remainder (reservation admission,
// batch.wgsl). cfg.scheduler_params.x = 1 when maxTokens is max-model-len, 0 for trace-output.

fn priority_key_trtllm_guaranteed_no_evict(prompt: u32, predicted: u32, index: u32) -> u32 {
  return 0u;
}

// prompt + max_tokens - 1: the context at which its last token is produced.
fn reserve_target_trtllm_guaranteed_no_evict(index: u32) -> u32 {
  if (cfg.scheduler_params.x == 1u) { return cfg.max_model_len - 1u; }
  return trace_prompt(index) + trace_output(index) - 1u;
}
