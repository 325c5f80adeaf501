// The iteration-time model, twin of src/model/iteration.ts (formula and exactness argument there).
// Needs shaders/u64.wgsl (add64, sub64, mul32x32, mul64x32) and, from the including shader, model_word(i): word i of the
// lane's model as packModelWords lays it out (0..4 ns coefficients, 5..7 ps coefficients, 8.. segment
// starts, 24.. segment ps per token). Every sum stays below 2^52 ps (checkIterationBound), so no u64
// here overflows and every u32 quotient fits.

const MODEL_SEGMENTS: u32 = 16u;

// The sums one iteration's batch adds up (BatchSums in iteration.ts); pairs is u64.
struct BatchSums {
  prompt: u32,
  decodes: u32,
  prefills: u32,
  decode_ctx: u32,
  prefill_ctx: u32,
  pairs: vec2<u32>,
}

fn batch_sums_empty() -> BatchSums {
  return BatchSums(0u, 0u, 0u, 0u, 0u, vec2<u32>(0u));
}

// attendedPairs: tokens*ctx + tokens*(tokens+1)/2; tokens*(tokens+1) is even, so the halving is exact.
fn attended_pairs(tokens: u32, ctx: u32) -> vec2<u32> {
  let tri = mul32x32(tokens, tokens + 1u);
  let half = vec2<u32>((tri.x >> 1u) | (tri.y << 31u), tri.y >> 1u);
  return add64(mul32x32(tokens, ctx), half);
}

// addToSums: the sums with one more scheduled request, `ctx` tokens stored, `tokens` processed now.
fn batch_sums_add(sums: BatchSums, ctx: u32, tokens: u32, in_prefill: bool) -> BatchSums {
  var s = sums;
  if (in_prefill) {
    s.prompt += tokens;
    s.prefills += 1u;
    s.prefill_ctx += ctx + tokens;
    s.pairs = add64(s.pairs, attended_pairs(tokens, ctx));
  } else {
    s.decodes += 1u;
    s.decode_ctx += ctx + tokens;
  }
  return s;
}

// The sums without a request batch_sums_add added (its step withdrawn by a preemption).
fn batch_sums_sub(sums: BatchSums, ctx: u32, tokens: u32, in_prefill: bool) -> BatchSums {
  var s = sums;
  if (in_prefill) {
    s.prompt -= tokens;
    s.prefills -= 1u;
    s.prefill_ctx -= ctx + tokens;
    s.pairs = sub64(s.pairs, attended_pairs(tokens, ctx));
  } else {
    s.decodes -= 1u;
    s.decode_ctx -= ctx + tokens;
  }
  return s;
}

// (quotient lo, quotient hi, remainder) of a u64 divided by d < 2^16: long division in 16-bit digits.
fn model_divmod_small(a: vec2<u32>, d: u32) -> vec3<u32> {
  let qh = a.y / d;
  var r = a.y % d;
  let t1 = (r << 16u) | (a.x >> 16u);
  let q1 = t1 / d;
  r = t1 % d;
  let t0 = (r << 16u) | (a.x & 0xffffu);
  return vec3<u32>((q1 << 16u) | (t0 / d), qh, t0 % d);
}

// (floor(ps / 10^6) as u32, ps mod 10^6): two divisions by 1000.
fn model_split_us(ps: vec2<u32>) -> vec2<u32> {
  let a = model_divmod_small(ps, 1000u);
  let b = model_divmod_small(a.xy, 1000u);
  return vec2<u32>(b.x, b.z * 1000u + a.z);
}

// Segment j's share of the batch-token table: its ps per token times the batch tokens inside it.
fn model_segment_ps(tokens: u32, j: u32) -> vec2<u32> {
  let seg_start = model_word(8u + j);
  if (tokens <= seg_start) { return vec2<u32>(0u); }
  var seg_end = tokens;
  if (j + 1u < MODEL_SEGMENTS) { seg_end = min(tokens, model_word(9u + j)); }
  return mul32x32(model_word(8u + MODEL_SEGMENTS + j), seg_end - seg_start);
}

// Straight-line over the 16 segments: no loop, so nothing here counts against a backend's loop limit
// (the engine's tick() budget on llvmpipe).
fn model_batch_tokens_ps(tokens: u32) -> vec2<u32> {
  var ps = add64(model_segment_ps(tokens, 0u), model_segment_ps(tokens, 1u));
  ps = add64(ps, add64(model_segment_ps(tokens, 2u), model_segment_ps(tokens, 3u)));
  ps = add64(ps, add64(model_segment_ps(tokens, 4u), model_segment_ps(tokens, 5u)));
  ps = add64(ps, add64(model_segment_ps(tokens, 6u), model_segment_ps(tokens, 7u)));
  ps = add64(ps, add64(model_segment_ps(tokens, 8u), model_segment_ps(tokens, 9u)));
  ps = add64(ps, add64(model_segment_ps(tokens, 10u), model_segment_ps(tokens, 11u)));
  ps = add64(ps, add64(model_segment_ps(tokens, 12u), model_segment_ps(tokens, 13u)));
  return add64(ps, add64(model_segment_ps(tokens, 14u), model_segment_ps(tokens, 15u)));
}

fn iteration_ps(b: BatchSums) -> vec2<u32> {
  var ns = vec2<u32>(model_word(0u), 0u);
  ns = add64(ns, mul32x32(model_word(1u), b.prompt));
  ns = add64(ns, mul32x32(model_word(2u), b.decodes));
  ns = add64(ns, mul32x32(model_word(3u), b.decode_ctx + b.prefill_ctx));
  ns = add64(ns, mul32x32(model_word(4u), b.prefills));
  var ps = mul64x32(ns, 1000u);
  ps = add64(ps, mul32x32(model_word(5u), b.decode_ctx));
  ps = add64(ps, mul32x32(model_word(6u), b.prefill_ctx));
  ps = add64(ps, mul64x32(b.pairs, model_word(7u)));
  return add64(ps, model_batch_tokens_ps(b.prompt + b.decodes));
}

// Iteration time in whole microseconds, rounded up (iterationUs).
fn iteration_us(b: BatchSums) -> u32 {
  let s = model_split_us(iteration_ps(b));
  return s.x + select(0u, 1u, s.y != 0u);
}

// A pure-decode run (DecodeRun in iteration.ts) at iteration k: its duration is q + (r != 0) µs, and
// each further iteration adds (dq, dr), so a fold advances with a few u32 operations.
struct DecodeRun {
  q: u32,
  r: u32,
  dq: u32,
  dr: u32,
}

// n requests decode; the first iteration (k = 0) attends decode_ctx tokens, each next one n more.
fn decode_run_at(n: u32, decode_ctx: u32, k: u32) -> DecodeRun {
  var first = batch_sums_empty();
  first.decodes = n;
  first.decode_ctx = decode_ctx;
  // (perContextToken * 1000 + perDecodeContextTokenPs) * n picoseconds per iteration
  let step_ps = add64(mul64x32(mul32x32(model_word(3u), n), 1000u), mul32x32(model_word(5u), n));
  let step = model_split_us(step_ps);
  let now = model_split_us(add64(iteration_ps(first), mul64x32(step_ps, k)));
  return DecodeRun(now.x, now.y, step.x, step.y);
}

fn decode_run_us(d: DecodeRun) -> u32 {
  return d.q + select(0u, 1u, d.r != 0u);
}

fn decode_run_next(d: DecodeRun) -> DecodeRun {
  var r = d.r + d.dr;
  var q = d.q + d.dq;
  if (r >= 1000000u) {
    r -= 1000000u;
    q += 1u;
  }
  return DecodeRun(q, r, d.dq, d.dr);
}
