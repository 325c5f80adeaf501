// Bindings, the lane's parameters, and accessors for every storage word the engine touches.
// Layout constants (P_*, LS_*, R_*, S_*, ...) come from the generated header (src/sim/gpu/layout.ts).
//
// State is kept per lane in one of two layouts (ix()):
//   lane-minor  word w of lane l at w * lanes + l   neighbouring invocations touch neighbouring
//                                                    words: coalesced on GPUs
//   lane-major  word w of lane l at l * stride + w  each lane's words contiguous, strides padded to
//                                                    64 bytes: Mesa llvmpipe corrupted words of lanes
//                                                    sharing a cache line (non-atomic wide stores)
// Replica and slot records are vec4s (a 4-word access costs what a 1-word access costs):
//   replica r, record q -> reps[rep_ix(q, r)]       slot s, record q -> slots[slot_ix(q, s)]

struct Uniforms {
  lanes: u32,
  steps: u32, // event instants per dispatch
  probe_trips: u32, // 0: the loop-limiter probe's trip count comes from here so it is not unrolled
  pad: u32,
}

@group(0) @binding(0) var<uniform> U: Uniforms;
@group(0) @binding(1) var<storage, read> params: array<u32>; // PARAM_WORDS per lane, lane-minor
@group(0) @binding(2) var<storage, read> trace: array<u32>; // (arrival lo, arrival hi, prompt, output) per request
@group(0) @binding(3) var<storage, read_write> ls: array<u32>; // LANE_WORDS per lane
@group(0) @binding(4) var<storage, read_write> reps: array<vec4<u32>>; // R_RECORDS records per replica
@group(0) @binding(5) var<storage, read_write> slots: array<vec4<u32>>; // S_RECORDS records per slot
@group(0) @binding(6) var<storage, read_write> hist: array<u32>; // HIST_BUCKETS per histogram
@group(0) @binding(7) var<storage, read_write> live: array<atomic<u32>>; // lanes still running after this dispatch

// The lane's configuration, read once per dispatch from params.
struct LaneConfig {
  trace_offset: u32,
  trace_length: u32,
  replicas: u32,
  seed: u32,
  kv_blocks: u32,
  block_size: u32,
  max_num_seqs: u32,
  max_batched_tokens: u32,
  max_model_len: u32,
  watermark_blocks: u32,
  iter_ns_base: u32,
  iter_ns_per_prefill_token: u32,
  iter_ns_per_decode_seq: u32,
  iter_ns_per_context_token: u32,
  slo_ttft_us: u32,
  slo_tpot_us: u32,
  router: u32,
  scheduler: u32,
  batching: u32,
}

var<private> lane: u32;
var<private> cfg: LaneConfig;

fn param(f: u32) -> u32 { count_load(); return params[f * U.lanes + lane]; }

fn load_config() {
  cfg = LaneConfig(
    param(P_TRACE_OFFSET), param(P_TRACE_LENGTH), param(P_REPLICAS), param(P_SEED),
    param(P_KV_BLOCKS), param(P_BLOCK_SIZE), param(P_MAX_NUM_SEQS), param(P_MAX_BATCHED_TOKENS),
    param(P_MAX_MODEL_LEN), param(P_WATERMARK_BLOCKS), param(P_ITER_NS_BASE),
    param(P_ITER_NS_PER_PREFILL_TOKEN), param(P_ITER_NS_PER_DECODE_SEQ), param(P_ITER_NS_PER_CONTEXT_TOKEN),
    param(P_SLO_TTFT_US), param(P_SLO_TPOT_US), param(P_ROUTER), param(P_SCHEDULER), param(P_BATCHING));
}

// Word w of the lane's region of a buffer whose lane-major stride is `stride` words.
fn ix(w: u32, stride: u32) -> u32 {
  if (LANE_MAJOR) { return lane * stride + w; }
  return w * U.lanes + lane;
}

fn lane_get(f: u32) -> u32 { count_load(); return ls[ix(f, LS_STRIDE)]; }
fn lane_set(f: u32, v: u32) { count_store(); ls[ix(f, LS_STRIDE)] = v; }

fn rep_ix(q: u32, r: u32) -> u32 {
  if (LANE_MAJOR) { return lane * (R_STRIDE / 4u) + R_RECORDS * r + q; }
  return (R_RECORDS * r + q) * U.lanes + lane;
}
fn rep_get(f: u32, r: u32) -> u32 { count_load(); return reps[rep_ix(f / 4u, r)][f % 4u]; }
fn rep_set(f: u32, r: u32, v: u32) { count_store(); reps[rep_ix(f / 4u, r)][f % 4u] = v; }
fn rep_rec(q: u32, r: u32) -> vec4<u32> { count_load(); return reps[rep_ix(q, r)]; }
fn rep_put(q: u32, r: u32, v: vec4<u32>) { count_store(); reps[rep_ix(q, r)] = v; }

fn slot_ix(q: u32, s: u32) -> u32 {
  if (LANE_MAJOR) { return lane * (S_STRIDE / 4u) + S_RECORDS * s + q; }
  return (S_RECORDS * s + q) * U.lanes + lane;
}
fn slot_get(f: u32, s: u32) -> u32 { count_load(); return slots[slot_ix(f / 4u, s)][f % 4u]; }
fn slot_set(f: u32, s: u32, v: u32) { count_store(); slots[slot_ix(f / 4u, s)][f % 4u] = v; }
fn slot_rec(q: u32, s: u32) -> vec4<u32> { count_load(); return slots[slot_ix(q, s)]; }
fn slot_put(q: u32, s: u32, v: vec4<u32>) { count_store(); slots[slot_ix(q, s)] = v; }

// Trace rows of this lane; arrivals are absolute u64 microseconds.
fn trace_arrival(i: u32) -> vec2<u32> {
  count_loads(2u);
  let w = 4u * (cfg.trace_offset + i);
  return vec2<u32>(trace[w], trace[w + 1u]);
}
fn trace_prompt(i: u32) -> u32 { count_load(); return trace[4u * (cfg.trace_offset + i) + 2u]; }
fn trace_output(i: u32) -> u32 { count_load(); return trace[4u * (cfg.trace_offset + i) + 3u]; }

// Views for routers.
fn rep_outstanding(r: u32) -> u32 { return rep_get(R_OUTSTANDING, r); }
fn rep_used_blocks(r: u32) -> u32 { return rep_get(R_USED, r); }
fn lane_routed() -> u32 { return lane_get(LS_ROUTED); }

fn stop(code: u32) { lane_set(LS_STATUS, code); }

fn ceil_div(a: u32, b: u32) -> u32 { return a / b + select(0u, 1u, a % b != 0u); }
