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
// (layout.ts draws the records).

struct Uniforms {
  lanes: u32,
  steps: u32, // event instants per dispatch
  probe_trips: u32, // 0: the loop-limiter probe's trip count comes from here so it is not unrolled
  cache_stride: u32, // words per lane of the prefix-cache binding (cache.wgsl; 0 without caching lanes)
  // Uniforms, not constants, so that one compiled pipeline serves every slot capacity and both
  // fast-forward settings (a cold compile costs seconds to tens of seconds on llvmpipe).
  slots: u32, // requests in flight per lane
  slot_stride: u32, // lane-major: slot records per lane
  fast_forward: u32, // 1: fold runs of identical decode iterations (records are identical either way)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> U: Uniforms;
@group(0) @binding(1) var<storage, read> params: array<vec4<u32>>; // PARAM_RECORDS per lane, lane-minor
// (arrival lo, arrival hi, prompt, output) per request, then one word per request of each distinct
// prediction (trace, predictor, parameters, seed) the lanes read (engine.ts packTraces).
@group(0) @binding(2) var<storage, read> trace: array<u32>;
@group(0) @binding(3) var<storage, read_write> ls: array<vec4<u32>>; // LANE_RECORDS per lane
@group(0) @binding(4) var<storage, read_write> reps: array<vec4<u32>>; // R_RECORDS records per replica
@group(0) @binding(5) var<storage, read_write> slots: array<vec4<u32>>; // S_RECORDS records per slot
@group(0) @binding(6) var<storage, read_write> hist: array<u32>; // HIST_BUCKETS per histogram
@group(0) @binding(7) var<storage, read_write> live: array<atomic<u32>>; // lanes still running after this dispatch

// The lane's configuration, read once per dispatch from params (PARAMS in layout.ts).
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
  slo_ttft_us: u32,
  slo_tpot_us: u32,
  router: u32,
  scheduler: u32,
  batching: u32,
  predicted: u32, // trace word of request 0's prediction, or NO_PREDICTIONS (trace_predicted)
  scheduler_params: vec4<u32>, // EngineScheduler.gpuParams of the lane's scheduler
  router_params: vec4<u32>, // Router.gpuParams, read only where a router of the pipeline has them
}

var<private> lane: u32;
var<private> cfg: LaneConfig;
// The lane's iteration-time model (src/model/iteration.wgsl reads it through model_word).
var<private> model: array<u32, MODEL_WORDS>;

fn param_rec(q: u32) -> vec4<u32> { count_load(); return params[q * U.lanes + lane]; }
fn model_word(i: u32) -> u32 { return model[i]; }

fn load_config() {
  let a = param_rec(0u);
  let b = param_rec(1u);
  let c = param_rec(2u);
  let d = param_rec(3u);
  var router_params = vec4<u32>(0u);
  if (ROUTER_PARAMS_USED) { router_params = param_rec(P_ROUTER_PARAMS / 4u); }
  cfg = LaneConfig(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w, c.x, c.y, c.z, c.w, d.x, d.y, d.z, d.w, param_rec(P_SCHEDULER_PARAMS / 4u), router_params);
  for (var q = 0u; q < MODEL_WORDS / 4u; q++) {
    let v = param_rec(P_MODEL / 4u + q);
    for (var c4 = 0u; c4 < 4u; c4++) { model[4u * q + c4] = v[c4]; }
  }
  if (CACHING) {
    let p = param_rec(P_PREFIX / 4u);
    prefix = PrefixConfig(p.x, p.y, p.z, p.w);
  }
}
// load_config reads PARAMS in layout.ts order.
const_assert P_TRACE_OFFSET == 0u && P_MAX_MODEL_LEN == 8u && P_WATERMARK_BLOCKS == 9u && P_SLO_TPOT_US == 11u;
const_assert P_ROUTER == 12u && P_BATCHING == 14u && P_PREDICTED == 15u && P_SCHEDULER_PARAMS == 16u && P_MODEL == 20u && MODEL_WORDS % 4u == 0u && P_ROUTER_PARAMS % 4u == 0u && P_PREFIX % 4u == 0u;

// Word w of the lane's region of a u32 buffer (the histograms) whose lane-major stride is `stride` words.
fn ix(w: u32, stride: u32) -> u32 {
  if (LANE_MAJOR) { return lane * stride + w; }
  return w * U.lanes + lane;
}

// The lane's state lives in private variables for the whole dispatch: loaded once by load_lane,
// stored once by store_lane (on llvmpipe every storage access is a loop over the SIMD group).
var<private> status: u32; // 0 running, 1 done, >= 2 stopped (ST_*)
var<private> next_arrival_index: u32; // next trace position to arrive
var<private> routed: u32;
var<private> free_head: u32; // free-slot list (slot + 1, NIL = none)
var<private> high: u32; // slots ever handed out

fn lane_ix(q: u32) -> u32 {
  if (LANE_MAJOR) { return lane * (LS_STRIDE / 4u) + q; }
  return q * U.lanes + lane;
}
fn lane_rec(q: u32) -> vec4<u32> { count_load(); return ls[lane_ix(q)]; }
fn lane_put(q: u32, v: vec4<u32>) { count_store(); ls[lane_ix(q)] = v; }

// The replica buffer holds, per lane, MAX_REPLICAS / 4 records of end times (four replicas each),
// then R_RECORDS records per replica.
const END_RECORDS: u32 = MAX_REPLICAS / 4u;
fn rep_ix(q: u32, r: u32) -> u32 {
  let rec = END_RECORDS + R_RECORDS * r + q;
  if (LANE_MAJOR) { return lane * (R_STRIDE / 4u) + rec; }
  return rec * U.lanes + lane;
}
fn ends_ix(g: u32) -> u32 {
  if (LANE_MAJOR) { return lane * (R_STRIDE / 4u) + g; }
  return g * U.lanes + lane;
}
fn rep_get(f: u32, r: u32) -> u32 { count_load(); return reps[rep_ix(f / 4u, r)][f % 4u]; }
fn rep_set(f: u32, r: u32, v: u32) { count_store(); reps[rep_ix(f / 4u, r)][f % 4u] = v; }
fn rep_rec(q: u32, r: u32) -> vec4<u32> { count_load(); return reps[rep_ix(q, r)]; }
fn rep_put(q: u32, r: u32, v: vec4<u32>) { count_store(); reps[rep_ix(q, r)] = v; }
// End times of replicas 4g..4g+3 (meaningful for busy replicas only).
fn ends_rec(g: u32) -> vec4<u32> { count_load(); return reps[ends_ix(g)]; }
fn end_of(r: u32) -> u32 { count_load(); return reps[ends_ix(r / 4u)][r % 4u]; }
fn set_end(r: u32, v: u32) { count_store(); reps[ends_ix(r / 4u)][r % 4u] = v; }

// The replica an event works on keeps its records 0 and 1 in `rep` from rep_open to rep_close, so
// that the queue and batch code reads and writes them without storage accesses.
struct ReplicaState {
  used: u32, // KV blocks in use, including those of iterations in progress
  outstanding: u32,
  waiting: u32,
  running: u32,
  w_root: u32, // waiting heap root
  r_head: u32, // running list
  r_tail: u32,
  prev_end: u32, // end of the previous batch
}
var<private> rep: ReplicaState;
var<private> rep_index: u32;
var<private> rep_loaded0: vec4<u32>;
var<private> rep_loaded1: vec4<u32>;

fn rep_open(r: u32) {
  rep_index = r;
  rep_loaded0 = rep_rec(0u, r);
  rep_loaded1 = rep_rec(1u, r);
  let a = rep_loaded0;
  let b = rep_loaded1;
  rep = ReplicaState(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
}
// Stores the records that changed.
fn rep_close() {
  let a = vec4<u32>(rep.used, rep.outstanding, rep.waiting, rep.running);
  let b = vec4<u32>(rep.w_root, rep.r_head, rep.r_tail, rep.prev_end);
  if (any(a != rep_loaded0)) { rep_put(0u, rep_index, a); }
  if (any(b != rep_loaded1)) { rep_put(1u, rep_index, b); }
}

// Replica sets as bit masks of up to 128 replicas (MAX_GPU_REPLICAS), kept in private variables
// for the whole dispatch: which replicas are busy, have an open fold, or wait to start.
var<private> busy_mask: vec4<u32>;
var<private> open_mask: vec4<u32>;
var<private> start_mask: vec4<u32>;
// Replicas whose batch ended and whose requests are not settled yet (batch.wgsl): their next start,
// in the same instant, settles them (a step split by the loop limiter may leave them to the next).
var<private> pending_mask: vec4<u32>;
const NONE: u32 = 0xffffffffu;
fn mask_has(m: vec4<u32>, r: u32) -> bool { return (m[r / 32u] & (1u << (r % 32u))) != 0u; }
fn mask_with(m: vec4<u32>, r: u32) -> vec4<u32> {
  var x = m;
  x[r / 32u] |= 1u << (r % 32u);
  return x;
}
fn mask_without(m: vec4<u32>, r: u32) -> vec4<u32> {
  var x = m;
  x[r / 32u] &= ~(1u << (r % 32u));
  return x;
}
// The smallest replica >= first in m, or NONE.
fn mask_next(m: vec4<u32>, first: u32) -> u32 {
  if (all(m == vec4<u32>(0u))) { return NONE; }
  tick(); // loop entry (gallivm counts it too)
  for (var w = first / 32u; w < 4u; w++) {
    tick();
    var bits = m[w];
    if (w == first / 32u) { bits &= 0xffffffffu << (first % 32u); }
    if (bits != 0u) { return 32u * w + countTrailingZeros(bits); }
  }
  return NONE;
}

const_assert LS_STATUS == 0u && LS_NEXT == 1u && LS_ROUTED == 2u && LS_FREE == 3u && LS_HIGH == 4u && LS_BASE == 5u;
const_assert LS_BUSY_MASK == 8u && LS_OPEN_MASK == 12u && LS_START_MASK == 16u && LS_PENDING_MASK == 20u && LS_CNT % 4u == 0u && LS_HIST % 4u == 0u;

// Loads the lane's state; false for a lane that has stopped (its other records are not read).
fn load_lane() -> bool {
  let a = lane_rec(0u);
  status = a.x;
  if (status != 0u) { return false; }
  next_arrival_index = a.y;
  routed = a.z;
  free_head = a.w;
  let b = lane_rec(1u);
  high = b.x;
  BASE = b.yz;
  busy_mask = lane_rec(LS_BUSY_MASK / 4u);
  open_mask = lane_rec(LS_OPEN_MASK / 4u);
  start_mask = lane_rec(LS_START_MASK / 4u);
  pending_mask = lane_rec(LS_PENDING_MASK / 4u);
  load_metrics();
  return true;
}

fn store_lane() {
  lane_put(0u, vec4<u32>(status, next_arrival_index, routed, free_head));
  lane_put(1u, vec4<u32>(high, BASE.x, BASE.y, 0u));
  lane_put(LS_BUSY_MASK / 4u, busy_mask);
  lane_put(LS_OPEN_MASK / 4u, open_mask);
  lane_put(LS_START_MASK / 4u, start_mask);
  lane_put(LS_PENDING_MASK / 4u, pending_mask);
  store_metrics();
}

fn slot_ix(q: u32, s: u32) -> u32 {
  if (LANE_MAJOR) { return lane * U.slot_stride + S_RECORDS * s + q; }
  return (S_RECORDS * s + q) * U.lanes + lane;
}
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
// The lane predictor's output length (RequestTable.predicted): what a policy that "reads
// predictions" reads, never trace_output, which is what the request really generates.
fn trace_predicted(i: u32) -> u32 {
  if (cfg.predicted == NO_PREDICTIONS) { return trace_output(i); }
  count_load();
  return trace[cfg.predicted + i];
}

// What routers see of a replica (ClusterView in src/policy/router/types.ts), one load.
struct ReplicaView {
  used_blocks: u32,
  outstanding: u32,
}
fn replica_view(r: u32) -> ReplicaView {
  let a = rep_rec(0u, r);
  return ReplicaView(a.x, a.y);
}
fn rep_outstanding(r: u32) -> u32 { return rep_get(R_OUTSTANDING, r); }

// Token views (TOKEN_VIEWS pipelines only). PREDICTED_DECODE (PREDICTED_VIEW pipelines; 0 in
// others) is as of the start of the batch in progress and changes when it ends; routers see a
// fold's ended iterations (all but the one in progress, K - 1) taken off already, as on the CPU
// (settleFoldViews). Each of the batch's BATCH_PRODUCERS lowers it by exactly one per iteration,
// since a fold stops where a producer's prediction runs out (batch.wgsl count_producer).
struct TokenView {
  queued_prefill: u32, // queuedPrefillTokens
  decode: u32, // predictedDecodeTokens
}
fn token_view(r: u32) -> TokenView {
  let v = rep_rec(R_QUEUED_PREFILL / 4u, r);
  var decode = v.y;
  if (mask_has(busy_mask, r)) { decode -= (rep_get(R_K, r) - 1u) * v.w; }
  return TokenView(v.x, decode);
}
// KV blocks replica r has committed (twin of committed.ts): in use, plus ceil((queued prompt tokens +
// extra) / block size), computed without overflowing u32: the queue's whole blocks, then the rest.
fn committed_blocks(used: u32, queued: u32, extra_tokens: u32) -> u32 {
  return used + queued / cfg.block_size + ceil_div(queued % cfg.block_size + extra_tokens, cfg.block_size);
}
// Adds (prompt, predicted output) tokens of a request routed to r, stopping the lane where a view
// would pass u32.
fn token_views_add(r: u32, prompt: u32, output: u32) {
  let v = rep_rec(R_QUEUED_PREFILL / 4u, r);
  if (prompt > 0xffffffffu - v.x || output > 0xffffffffu - v.y) {
    stop(ST_VIEWS);
    return;
  }
  rep_put(R_QUEUED_PREFILL / 4u, r, vec4<u32>(v.x + prompt, v.y + output, v.z, v.w));
}
fn lane_routed() -> u32 { return routed; }

fn stop(code: u32) { status = code; }

fn ceil_div(a: u32, b: u32) -> u32 { return a / b + select(0u, 1u, a % b != 0u); }
