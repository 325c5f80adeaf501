// Twin of vllm-priority.ts. cfg.scheduler_params.x: what the priority is (0 predicted output,
// 1 prompt, 2 their sum; vllm-priority.ts gpuParams).
//
// Its victim rule needs the slot's KEY word for a scheduled chunk (batch.wgsl note_chunk), so the
// queues compute the key from the trace row (queue_key) and the KEY word holds 0.

fn priority_of_vllm_priority(index: u32) -> u32 {
  switch (cfg.scheduler_params.x) {
    case 0u: { return trace_predicted(index); }
    case 1u: { return trace_prompt(index); }
    default: { return trace_prompt(index) + trace_predicted(index); }
  }
}

fn priority_key_vllm_priority(prompt: u32, predicted: u32, index: u32) -> u32 {
  return 0u;
}

fn queue_key_vllm_priority(index: u32) -> vec2<u32> {
  return vec2<u32>(priority_of_vllm_priority(index), 0u);
}

// Running requests stay in admission order (vLLM's self.running list).
fn running_appends_vllm_priority() -> bool {
  return true;
}

// The victim is the running request with the largest (priority, arrival), scheduled or not.
fn preempt_first_vllm_priority(s_a: u32, h_a: vec4<u32>, s_b: u32, h_b: vec4<u32>) -> bool {
  let a = slot_rec(REC_ID, s_a).x;
  let b = slot_rec(REC_ID, s_b).x;
  let pa = priority_of_vllm_priority(a);
  let pb = priority_of_vllm_priority(b);
  return pa > pb || (pa == pb && a > b);
}
