// Twin of srpt.ts. cfg.scheduler_params.x = preemptMarginTokens (srpt.ts gpuParams). Its key, the
// predicted remaining output when queued, is stored in the slot's KEY word, so pipelines with it
// keep scheduled chunks in the AUX record (compose.ts slotRecords).

// predictedRemaining: max(predicted - generated, 0) with `output_left` tokens still to generate.
fn predicted_left_srpt(index: u32, output_left: u32) -> u32 {
  let predicted = trace_predicted(index);
  let generated = trace_output(index) - output_left;
  return select(0u, predicted - generated, predicted > generated);
}

fn priority_key_srpt(prompt: u32, predicted: u32, index: u32) -> u32 {
  return predicted; // nothing generated yet
}

fn requeue_key_srpt(index: u32, output_left: u32) -> u32 {
  return predicted_left_srpt(index, output_left);
}

// The victim is the running request with the most predicted remaining output.
fn preempt_first_srpt(s_a: u32, h_a: vec4<u32>, s_b: u32, h_b: vec4<u32>) -> bool {
  return predicted_left_srpt(slot_rec(REC_ID, s_a).x, h_a.w) > predicted_left_srpt(slot_rec(REC_ID, s_b).x, h_b.w);
}

fn displaces_srpt(s_head: u32, h_head: vec4<u32>, s_v: u32, h_v: vec4<u32>) -> bool {
  let head = predicted_left_srpt(slot_rec(REC_ID, s_head).x, h_head.w);
  return predicted_left_srpt(slot_rec(REC_ID, s_v).x, h_v.w) > head + cfg.scheduler_params.x;
}
