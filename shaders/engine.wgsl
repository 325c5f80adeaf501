// The GPU engine: one invocation = one lane (one cluster configuration). Twin of
// src/sim/cpu/simulator.ts; every decision below mirrors a line there, in integers.
// Composed after: header constants (MAXR, SLOTS, RES_CAP, WG), rng.wgsl, histogram.wgsl, u64.wgsl,
// the scheduler module (BATCHING_CHUNKED, priority_key) and the router module (route).
// Layout: params are lane-minor (word = field * lanes + lane); state buffers follow ix() below.

struct Uniforms {
  lanes: u32,
  steps: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<uniform> U: Uniforms;
@group(0) @binding(1) var<storage, read> params: array<u32>;
@group(0) @binding(2) var<storage, read> trace: array<u32>; // (arrival lo, arrival hi, prompt, output) per request
@group(0) @binding(3) var<storage, read_write> ls: array<u32>;
@group(0) @binding(4) var<storage, read_write> reps: array<vec4<u32>>; // R_RECS vec4 records per replica
@group(0) @binding(5) var<storage, read_write> slots: array<vec4<u32>>; // 4 vec4 records per slot
@group(0) @binding(6) var<storage, read_write> hist: array<u32>;
@group(0) @binding(7) var<storage, read_write> live: array<atomic<u32>>;

// ---- per-lane parameters (host: src/sim/gpu/engine.ts PARAM_FIELDS) ----
const P_TRACE_OFF: u32 = 0u;
const P_TRACE_LEN: u32 = 1u;
const P_REPLICAS: u32 = 2u;
const P_SEED: u32 = 3u;
const P_KV: u32 = 4u;
const P_BS: u32 = 5u;
const P_MAXSEQS: u32 = 6u;
const P_MAXBATCHED: u32 = 7u;
const P_MAXLEN: u32 = 8u;
const P_WM: u32 = 9u;
const P_SLO_TTFT: u32 = 10u;
const P_SLO_TPOT: u32 = 11u;
const P_MODEL: u32 = 12u; // MODEL_WORDS words: the iteration model as packModelWords lays it out

// ---- lane state: status, cursors, counters (u64 pairs, COUNTERS order), histogram stats ----
const LS_STATUS: u32 = 0u; // 0 running, 1 done, >= 2 stopped (see ST_*)
const LS_NEXT: u32 = 1u; // next arrival (trace position)
const LS_ROUTED: u32 = 2u;
const LS_FREE: u32 = 3u; // free-slot stack size
const LS_HIGH: u32 = 4u; // slots ever handed out
const LS_CNT: u32 = 5u; // 13 counters x (lo, hi)
const LS_H: u32 = 31u; // 6 histograms x (count lo, count hi, sum lo, sum hi, max)
const LS_BASE: u32 = 61u; // (lo, hi): the lane's clock origin in trace microseconds (see rebase())
const LS_WORK: u32 = 63u; // W_COUNT work counters as (lo, hi), kept under WORK_COUNTERS only

const ST_DONE: u32 = 1u;
const ST_SLOTS: u32 = 2u;
const ST_CLOCK: u32 = 3u; // a time span above 2^32-1 µs
const ST_INTERNAL: u32 = 4u;
const ST_LOOP_LIMIT: u32 = 5u;
const ST_REBASE: u32 = 6u; // a request in flight too long for rebase() to move the clock origin

const C_COMPLETED: u32 = 1u;
const C_REJ_MAXLEN: u32 = 2u;
const C_REJ_KV: u32 = 3u;
const C_PREEMPTIONS: u32 = 4u;
const C_PREEMPTED_REQ: u32 = 5u;
const C_OUTPUT_TOKENS: u32 = 6u;
const C_SLO_MET: u32 = 7u;
const C_TTFT_MET: u32 = 8u;
const C_TPOT_MET: u32 = 9u;
const C_ITERATIONS: u32 = 10u;
const C_BUSY_US: u32 = 11u;
const C_MAKESPAN: u32 = 12u; // a max of absolute times (lo, hi)

const H_TTFT: u32 = 0u;
const H_TPOT: u32 = 1u;
const H_ITL: u32 = 2u;
const H_E2E: u32 = 3u;
const H_QUEUE: u32 = 4u;
const H_KV: u32 = 5u;

// ---- replica fields: vec4 records, field f in record f / 4, component f % 4.
// Record 0 holds what step() tests for every replica, so its scans load one record per replica.
const R_BUSY: u32 = 0u; // 0 idle, BUSY (an iteration or fold in progress), BUSY_OPEN (a fold arrivals lengthen)
const R_END: u32 = 1u;
const R_WN: u32 = 2u; // waiting count
const R_RN: u32 = 3u; // running count
const R_USED: u32 = 4u;
const R_OUT: u32 = 5u; // outstanding (waiting + running)
const R_WH: u32 = 6u; // waiting list head/tail (links are slot + 1, 0 = none)
const R_WT: u32 = 7u;
const R_RH: u32 = 8u; // running list head/tail
const R_RT: u32 = 9u;
const R_FEND: u32 = 10u; // end of the batch's first iteration
const R_K: u32 = 11u; // iterations folded into the batch
// Record 3 holds the fold: (context tokens of its first iteration, iterations after which its first
// request completes, requests in the batch, unused), written and read whole.
const R_FOLD_REC: u32 = 3u;
// Records 4.. hold the fold's residue counts (requests by context mod block size, RES_CAP of them).
// In storage, not a private array: llvmpipe let masked-off invocations corrupt dynamically indexed
// private arrays.
const R_RES_REC: u32 = 4u;
const R_RECS: u32 = 4u + RES_CAP / 4u;
const BUSY: u32 = 1u;
const BUSY_OPEN: u32 = 2u;

// ---- slot fields: a slot (one request in flight) is 4 vec4 records, field f in record f / 4,
// component f % 4. On llvmpipe one vec4 access is one per-lane loop, like one u32 access, so the
// member walks load and store whole records.
const S_IDX: u32 = 0u; // record A: (IDX, KEY, CTX, GEN)
const S_KEY: u32 = 1u;
const S_CTX: u32 = 2u;
const S_GEN: u32 = 3u;
const S_TGT: u32 = 4u; // record B: (TGT, BLK, FIRST, LAST); TGT: prompt + generated at (re)admission
const S_BLK: u32 = 5u;
const S_FIRST: u32 = 6u;
const S_LAST: u32 = 7u;
const S_FLAGS: u32 = 8u; // record C: (FLAGS, BTOK, NEXT, PREV); BTOK: tokens in the batch, 0 = not in it
const S_BTOK: u32 = 9u;
const S_NEXT: u32 = 10u;
const S_PREV: u32 = 11u;
const S_FREE: u32 = 12u; // record D: free-slot stack (indexed by stack position, not by slot)
const REC_A: u32 = 0u;
const REC_B: u32 = 1u;
const REC_C: u32 = 2u;

const F_FIRST: u32 = 1u;
const F_ADMITTED: u32 = 2u;
const F_PREEMPTED: u32 = 4u;
const F_PRODUCES: u32 = 8u;

const NIL: u32 = 0u;

// Loop iterations this invocation has run. Mesa llvmpipe caps the loop iterations of one
// invocation, all loops together, at 65535 (gallivm's loop limiter, shared by a SIMD group) and
// silently exits loops beyond that. Under LOOP_LIMITED a dispatch starts no step past
// TICK_START_MAX (an estimate: the compiler adds loops of its own), and a probe at the end detects
// an exhausted limiter exactly: such a lane stops and is re-run on the CPU.
var<private> ticks: u32;

// A two-iteration probe loop (trip count from a uniform, so it is not unrolled): if the limiter is
// exhausted it stops after one, and this invocation's loops may have been cut short.
fn loop_limit_intact() -> bool {
  var probe = 0u;
  loop {
    probe += 1u;
    if (probe >= U.pad0 + 2u) { break; }
  }
  return probe == U.pad0 + 2u;
}
fn tick() { ticks += 1u; wk(W_LOOPS, 1u); }

// ---- work counters (WORK_COUNTERS only): what one lane does, for `schedlab bench --work` ----
const W_INSTANTS: u32 = 0u;
const W_LOADS: u32 = 1u; // storage loads (a vec4 load counts once)
const W_STORES: u32 = 2u;
const W_VISITS: u32 = 3u; // request visits in list walks
const W_LOOPS: u32 = 4u; // loop iterations
const W_FOLD_ITERS: u32 = 5u; // fast-forwarded decode iterations
const W_COUNT: u32 = 6u;
var<private> work: array<u32, 6>;
fn wk(c: u32, n: u32) { if (WORK_COUNTERS) { work[c] += n; } }
fn ld() { wk(W_LOADS, 1u); }
fn st() { wk(W_STORES, 1u); }
// This dispatch's share of the loop limiter is used up: start nothing more (always false off llvmpipe).
fn budget_spent() -> bool { return LOOP_LIMITED && ticks > TICK_START_MAX; }


var<private> lane: u32;
var<private> L: u32;
var<private> TOFF: u32;
var<private> TLEN: u32;
var<private> REPLICAS: u32;
var<private> SEED: u32;
var<private> KV: u32;
var<private> BS: u32;
var<private> MAXSEQS: u32;
var<private> MAXBATCHED: u32;
var<private> MAXLEN: u32;
var<private> WM: u32;
var<private> SLO_TTFT: u32;
var<private> SLO_TPOT: u32;

// Word w of a lane's region. Lane-minor (w * lanes + lane) lets neighbouring invocations touch
// neighbouring words (coalescing on GPUs); lane-major (lane * stride + w, strides padded to 64 bytes)
// keeps lanes on separate cache lines, which Mesa llvmpipe needs: there, lanes sharing a cache line
// were measured to corrupt each other's words (non-atomic wide stores).
fn ix(w: u32, stride: u32) -> u32 {
  if (LANE_MAJOR) { return lane * stride + w; }
  return w * L + lane;
}
fn lsg(f: u32) -> u32 { ld(); return ls[ix(f, LS_STRIDE)]; }
fn lss(f: u32, v: u32) { st(); ls[ix(f, LS_STRIDE)] = v; }
// Record q of replica r (R_STRIDE counts words).
fn rix(q: u32, r: u32) -> u32 {
  if (LANE_MAJOR) { return lane * (R_STRIDE / 4u) + R_RECS * r + q; }
  return (R_RECS * r + q) * L + lane;
}
fn rg(f: u32, r: u32) -> u32 { ld(); return reps[rix(f / 4u, r)][f % 4u]; }
fn rs(f: u32, r: u32, v: u32) { st(); reps[rix(f / 4u, r)][f % 4u] = v; }
fn rrec0(r: u32) -> vec4<u32> { ld(); return reps[rix(0u, r)]; }
fn res_get(r: u32, q: u32) -> u32 { ld(); return reps[rix(R_RES_REC + q / 4u, r)][q % 4u]; }
fn res_set(r: u32, q: u32, v: u32) { st(); reps[rix(R_RES_REC + q / 4u, r)][q % 4u] = v; }
// Record q of slot s (S_STRIDE counts words; records are 4 words).
fn six(q: u32, s: u32) -> u32 {
  if (LANE_MAJOR) { return lane * (S_STRIDE / 4u) + 4u * s + q; }
  return (4u * s + q) * L + lane;
}
fn sg(f: u32, s: u32) -> u32 { ld(); return slots[six(f / 4u, s)][f % 4u]; }
fn ss(f: u32, s: u32, v: u32) { st(); slots[six(f / 4u, s)][f % 4u] = v; }
fn srec(q: u32, s: u32) -> vec4<u32> { ld(); return slots[six(q, s)]; }
fn swrec(q: u32, s: u32, v: vec4<u32>) { st(); slots[six(q, s)] = v; }
fn pg(f: u32) -> u32 { ld(); return params[f * L + lane]; }

// Times in lane state are u32 microseconds after BASE, which rebase() moves forward before they
// could overflow; trace arrivals are absolute u64 and only ever used relative to BASE or to a time.
var<private> BASE: vec2<u32>;
const FAR: u32 = 0xffffffffu; // "not within u32 of BASE"; no event time reaches it
fn t_arrival_abs(i: u32) -> vec2<u32> { wk(W_LOADS, 2u); return vec2<u32>(trace[4u * (TOFF + i)], trace[4u * (TOFF + i) + 1u]); }
fn t_prompt(i: u32) -> u32 { ld(); return trace[4u * (TOFF + i) + 2u]; }
fn t_output(i: u32) -> u32 { ld(); return trace[4u * (TOFF + i) + 3u]; }
// Arrival i as a lane time (i has not arrived yet, so it is at or after BASE), FAR if out of range.
fn t_arrival(i: u32) -> u32 {
  let d = sub64(t_arrival_abs(i), BASE);
  return select(FAR, d.x, d.y == 0u && d.x != FAR);
}
// Lane time t minus request i's arrival; the arrival may lie before BASE.
fn since_arrival(i: u32, t: u32) -> u32 {
  let d = sub64(add64(BASE, vec2<u32>(t, 0u)), t_arrival_abs(i));
  if (d.y != 0u) { stop(ST_CLOCK); }
  return d.x;
}

// Views for routers.
fn rep_outstanding(r: u32) -> u32 { return rg(R_OUT, r); }
fn rep_used_blocks(r: u32) -> u32 { return rg(R_USED, r); }
fn lane_routed() -> u32 { return lsg(LS_ROUTED); }

fn ceil_div(a: u32, b: u32) -> u32 { return a / b + select(0u, 1u, a % b != 0u); }

// Counters and histogram stats live in private variables for the whole dispatch (loaded and
// stored once in main): on llvmpipe every storage access is a per-lane scalar loop, and masked-off
// code still runs, so each cnt_add/hadd call site would cost a dozen of them.
var<private> cnt: array<u32, 26>; // LS_CNT.. (lo, hi) pairs
var<private> hst: array<u32, 30>; // LS_H.. (count lo, count hi, sum lo, sum hi, max) per histogram

fn cnt_add(c: u32, v: u32) {
  let s = add64(vec2<u32>(cnt[2u * c], cnt[2u * c + 1u]), vec2<u32>(v, 0u));
  cnt[2u * c] = s.x;
  cnt[2u * c + 1u] = s.y;
}

fn hist_bump(h: u32, value: u32, times: u32) {
  let i = ix(h * HIST_BUCKETS + bucket_of(value), H_STRIDE);
  ld();
  st();
  hist[i] = hist[i] + times; // wraps like the CPU's Uint32Array
}

// h must be a constant at every call site (hst stays in registers).
fn hstat(h: u32, value: u32, times: u32) {
  let w = 5u * h;
  let c = add64(vec2<u32>(hst[w], hst[w + 1u]), vec2<u32>(times, 0u));
  hst[w] = c.x;
  hst[w + 1u] = c.y;
  let s = add64(vec2<u32>(hst[w + 2u], hst[w + 3u]), mul32x32(value, times));
  hst[w + 2u] = s.x;
  hst[w + 3u] = s.y;
  hst[w + 4u] = max(hst[w + 4u], value);
}

fn hadd(h: u32, value: u32, times: u32) {
  hist_bump(h, value, times);
  hstat(h, value, times);
}

// The lane's iteration model, for src/model/iteration.wgsl.
fn model_word(i: u32) -> u32 { return pg(P_MODEL + i); }

// ---- intrusive sorted lists over slots: (key, request index) ascending ----

fn list_insert(r: u32, hf: u32, tf: u32, nf: u32, s: u32) {
  let a = srec(REC_A, s);
  let key = a.y;
  let idx = a.x;
  // Scan from the tail: new and re-queued requests mostly belong near the end.
  var m = rg(tf, r);
  loop {
    tick();
    if (m == NIL) { break; }
    wk(W_VISITS, 1u);
    let ma = srec(REC_A, m - 1u);
    if (ma.y < key || (ma.y == key && ma.x < idx)) { break; }
    m = sg(S_PREV, m - 1u);
  }
  var n: u32;
  if (m == NIL) {
    n = rg(hf, r);
    rs(hf, r, s + 1u);
  } else {
    n = sg(S_NEXT, m - 1u);
    ss(S_NEXT, m - 1u, s + 1u);
  }
  ss(S_PREV, s, m);
  ss(S_NEXT, s, n);
  if (n == NIL) { rs(tf, r, s + 1u); } else { ss(S_PREV, n - 1u, s + 1u); }
  rs(nf, r, rg(nf, r) + 1u);
}

fn list_remove(r: u32, hf: u32, tf: u32, nf: u32, s: u32) {
  let p = sg(S_PREV, s);
  let n = sg(S_NEXT, s);
  if (p == NIL) { rs(hf, r, n); } else { ss(S_NEXT, p - 1u, n); }
  if (n == NIL) { rs(tf, r, p); } else { ss(S_PREV, n - 1u, p); }
  rs(nf, r, rg(nf, r) - 1u);
}

fn waiting_insert(r: u32, s: u32) { list_insert(r, R_WH, R_WT, R_WN, s); }
fn waiting_remove(r: u32, s: u32) { list_remove(r, R_WH, R_WT, R_WN, s); }
fn running_insert(r: u32, s: u32) { list_insert(r, R_RH, R_RT, R_RN, s); }
fn running_remove(r: u32, s: u32) { list_remove(r, R_RH, R_RT, R_RN, s); }

// Slot + 1, or NIL when the table is full.
fn slot_alloc() -> u32 {
  let f = lsg(LS_FREE);
  if (f > 0u) {
    lss(LS_FREE, f - 1u);
    return sg(S_FREE, f - 1u) + 1u;
  }
  let h = lsg(LS_HIGH);
  if (h >= SLOTS) { return NIL; }
  lss(LS_HIGH, h + 1u);
  return h + 1u;
}

fn slot_free(s: u32) {
  ss(S_FLAGS, s, 0u); // a free slot holds no time for rebase() to keep
  let f = lsg(LS_FREE);
  ss(S_FREE, f, s);
  lss(LS_FREE, f + 1u);
}

fn stop(code: u32) { lss(LS_STATUS, code); }

// ---- arrivals ----

fn arrive(i: u32) -> bool {
  let prompt = t_prompt(i);
  let output = t_output(i);
  if (prompt + output > MAXLEN) {
    cnt_add(C_REJ_MAXLEN, 1u);
    return true;
  }
  if (ceil_div(prompt + output - 1u, BS) > KV - WM) {
    cnt_add(C_REJ_KV, 1u);
    return true;
  }
  let r = route(i);
  lss(LS_ROUTED, lsg(LS_ROUTED) + 1u);
  rs(R_OUT, r, rg(R_OUT, r) + 1u);
  // Its scheduler must see the new request at its next iteration: the fold ends where it is.
  if (rg(R_BUSY, r) == BUSY_OPEN) { rs(R_BUSY, r, BUSY); }
  let m = slot_alloc();
  if (m == NIL) {
    stop(ST_SLOTS);
    return false;
  }
  let s = m - 1u;
  swrec(REC_A, s, vec4<u32>(i, priority_key(prompt, output, i), 0u, 0u));
  // FIRST and LAST are written before they are read (F_FIRST is clear); the links by waiting_insert.
  swrec(REC_B, s, vec4<u32>(prompt, 0u, 0u, 0u));
  swrec(REC_C, s, vec4<u32>(0u, 0u, 0u, 0u));
  waiting_insert(r, s);
  return true;
}

// ---- batch building ----

fn allocate(r: u32, s: u32, blocks: u32) {
  ss(S_BLK, s, sg(S_BLK, s) + blocks);
  rs(R_USED, r, rg(R_USED, r) + blocks);
}

fn admit(r: u32, s: u32, blocks: u32, now: u32) {
  allocate(r, s, blocks);
  running_insert(r, s);
  let flags = sg(S_FLAGS, s);
  if ((flags & F_ADMITTED) == 0u) {
    ss(S_FLAGS, s, flags | F_ADMITTED);
    hadd(H_QUEUE, since_arrival(sg(S_IDX, s), now), 1u);
  }
}

// Batch totals, summed as requests join the batch (start_iteration would otherwise walk it again).
var<private> b_n: u32;
var<private> b_sums: BatchSums;

fn add_to_batch(s: u32, ctx: u32, tgt: u32, tokens: u32, produces: bool) -> u32 {
  b_n += 1u;
  b_sums = batch_sums_add(b_sums, ctx, tokens, ctx < tgt);
  var rc = srec(REC_C, s);
  rc.x = (rc.x & ~F_PRODUCES) | select(0u, F_PRODUCES, produces);
  rc.y = tokens;
  swrec(REC_C, s, rc);
  return rc.z; // the running-list successor, for walks (record C holds the links)
}

// Recompute preemption: drop all KV, wait again to prefill prompt + generated.
fn preempt(r: u32, s: u32) {
  rs(R_USED, r, rg(R_USED, r) - sg(S_BLK, s));
  ss(S_BLK, s, 0u);
  ss(S_CTX, s, 0u);
  ss(S_TGT, s, t_prompt(sg(S_IDX, s)) + sg(S_GEN, s));
  let flags = sg(S_FLAGS, s);
  if ((flags & F_PREEMPTED) == 0u) {
    cnt_add(C_PREEMPTED_REQ, 1u);
    ss(S_FLAGS, s, flags | F_PREEMPTED);
  }
  cnt_add(C_PREEMPTIONS, 1u);
  waiting_insert(r, s);
}

// schedule_running's results, in private variables rather than a returned struct.
var<private> sr_preempted: bool;
var<private> sr_budget: u32;
var<private> sr_all_decodes: bool;
var<private> sr_scheduled: u32;

fn schedule_running(r: u32, budget_in: u32) {
  var preempted = false;
  var budget = budget_in;
  var all_decodes = true;
  var scheduled = 0u;
  var m = rg(R_RH, r);
  // The walk breaks out to preempt one victim and resumes at the same request, so the preemption
  // code runs once per preemption, not (masked, on llvmpipe) once per request.
  loop {
    tick();
    var s = 0u;
    var blocked = false;
    loop {
      tick();
      if (m == NIL || budget == 0u) { break; }
      wk(W_VISITS, 1u);
      s = m - 1u;
      let ctx = sg(S_CTX, s);
      var rb = srec(REC_B, s);
      let tgt = rb.x;
      let in_prefill = ctx < tgt;
      var tokens = 1u;
      if (in_prefill) { tokens = min(tgt - ctx, budget); }
      let need = ceil_div(ctx + tokens, BS) - rb.y;
      let used = rg(R_USED, r);
      if (used + need > KV) {
        blocked = true;
        break;
      }
      // allocate(), on the record already loaded
      rb.y += need;
      swrec(REC_B, s, rb);
      rs(R_USED, r, used + need);
      if (in_prefill) { all_decodes = false; }
      budget -= tokens;
      scheduled += 1u;
      m = add_to_batch(s, ctx, tgt, tokens, !in_prefill || ctx + tokens == tgt);
    }
    if (!blocked) { break; }
    let victim = rg(R_RT, r) - 1u;
    running_remove(r, victim);
    preempt(r, victim);
    preempted = true;
    if (victim == s) { break; }
  }
  sr_preempted = preempted;
  sr_budget = budget;
  sr_all_decodes = all_decodes;
  sr_scheduled = scheduled;
}

// vLLM v0: whole prompts while they fit, else one decode step for every running request.
fn build_prefill_first(r: u32, now: u32) -> bool {
  var tokens = 0u;
  var admitted = false;
  loop {
    tick();
    let h = rg(R_WH, r);
    if (h == NIL) { break; }
    let s = h - 1u;
    let need = sg(S_TGT, s);
    let need_blocks = ceil_div(need, BS);
    if (rg(R_RN, r) >= MAXSEQS) { break; }
    if (tokens + need > MAXBATCHED) { break; }
    if (rg(R_USED, r) + need_blocks + WM > KV) { break; }
    waiting_remove(r, s);
    admit(r, s, need_blocks, now);
    _ = add_to_batch(s, 0u, need, need, true); // waiting requests hold no KV: ctx 0
    tokens += need;
    admitted = true;
  }
  if (admitted) { return false; }
  schedule_running(r, 0xffffffffu);
  return !sr_preempted;
}

// vLLM v1 / Sarathi: running requests first within the budget, then new prompt chunks.
fn build_chunked(r: u32, now: u32) -> bool {
  schedule_running(r, MAXBATCHED);
  if (sr_preempted) { return false; }
  var budget = sr_budget;
  var admitted = false;
  loop {
    tick();
    let h = rg(R_WH, r);
    if (h == NIL || budget == 0u || rg(R_RN, r) >= MAXSEQS) { break; }
    let s = h - 1u;
    let tgt = sg(S_TGT, s);
    let chunk = min(tgt, budget);
    let need_blocks = ceil_div(chunk, BS);
    if (rg(R_USED, r) + need_blocks + WM > KV) { break; }
    waiting_remove(r, s);
    admit(r, s, need_blocks, now);
    _ = add_to_batch(s, 0u, tgt, chunk, chunk == tgt);
    budget -= chunk;
    admitted = true;
  }
  return !admitted && sr_all_decodes && sr_scheduled == rg(R_RN, r);
}

fn record_iteration(r: u32, duration: u32, new_blocks: u32) {
  let used = rg(R_USED, r) + new_blocks;
  rs(R_USED, r, used);
  hadd(H_KV, used, 1u);
  cnt_add(C_ITERATIONS, 1u);
  cnt_add(C_BUSY_US, duration);
}

fn start_iteration(r: u32, now: u32, has_next: bool, next_arrival: u32) -> bool {
  b_n = 0u;
  b_sums = batch_sums_empty();
  var pure: bool;
  if (BATCHING_CHUNKED) { pure = build_chunked(r, now); } else { pure = build_prefill_first(r, now); }
  let n = b_n;
  let context = b_sums.decode_ctx; // a fold's batch is all decodes
  if (n == 0u) {
    stop(ST_INTERNAL);
    return false;
  }
  let first_us = iteration_us(b_sums);
  record_iteration(r, first_us, 0u);
  var end = now + first_us;
  if (end < now || end == FAR) {
    stop(ST_CLOCK);
    return false;
  }
  rs(R_FEND, r, end);
  rs(R_K, r, 1u);
  rs(R_END, r, end);
  rs(R_BUSY, r, BUSY);
  if (pure && FF_ON) {
    // Fast-forward: iterations 2..k repeat the first with contexts one token longer each; they start
    // before the next arrival, complete nobody before the k-th and fit in the free blocks.
    tick(); // loop entry (gallivm counts it too)
    for (var q = 0u; q < BS; q += 4u) {
      tick();
      st();
      reps[rix(R_RES_REC + q / 4u, r)] = vec4<u32>(0u);
    }
    var max_k = 0xffffffffu;
    var m = rg(R_RH, r);
    loop {
      tick();
      if (m == NIL) { break; }
      wk(W_VISITS, 1u);
      let s = m - 1u;
      let a = srec(REC_A, s);
      max_k = min(max_k, t_output(a.x) - a.w);
      let q = a.z % BS;
      res_set(r, q, res_get(r, q) + 1u);
      m = sg(S_NEXT, s);
    }
    st();
    reps[rix(R_FOLD_REC, r)] = vec4<u32>(context, max_k, n, 0u);
    if (!extend_fold(r, has_next, next_arrival)) { return false; }
  }
  return true;
}

// Adds the fold's iterations that start before the next arrival; the fold stays open (BUSY_OPEN)
// if it stopped only there. Twin of extendFold in simulator.ts.
fn extend_fold(r: u32, has_next: bool, next_arrival: u32) -> bool {
  ld();
  let f = reps[rix(R_FOLD_REC, r)];
  let context = f.x;
  let max_k = f.y;
  let n = f.z;
  var k = rg(R_K, r);
  var end = rg(R_END, r);
  var used = rg(R_USED, r);
  var free = KV - used;
  var open = false;
  // Histogram writes of folded iterations are batched per run of equal buckets (KV use and ITL
  // change slowly): the walk breaks out to write when a bucket changes, then resumes.
  var kv_b = 0u;
  var kv_c = 0u;
  var itl_b = 0u;
  var itl_c = 0u;
  var run = decode_run_at(n, context, k);
  loop {
    tick();
    var flush = false;
    loop {
      tick();
      if (k >= max_k) { break; }
      // An iteration starting at the arrival instant starts after it (event order), so it may differ.
      if (has_next && end >= next_arrival) {
        open = true;
        break;
      }
      // A shorter fold is still exact (the next event folds on); it keeps one long one under the
      // loop limiter.
      if (budget_spent()) { break; }
      let dur = decode_run_us(run);
      let e2 = end + dur;
      // Ends the fold here; step() rebases the clock before the replica's next iteration.
      if (e2 < end || e2 == FAR) { break; }
      let nb = res_get(r, (BS - (k % BS)) % BS);
      if (nb > free) { break; }
      let bk = H_KV * HIST_BUCKETS + bucket_of(used + nb);
      let bi = H_ITL * HIST_BUCKETS + bucket_of(dur);
      if ((kv_c > 0u && bk != kv_b) || (itl_c > 0u && bi != itl_b)) {
        flush = true;
        break;
      }
      free -= nb;
      used += nb;
      // record_iteration and hadd(H_ITL, dur, n), histogram buckets deferred
      hstat(H_KV, used, 1u);
      cnt_add(C_ITERATIONS, 1u);
      cnt_add(C_BUSY_US, dur);
      hstat(H_ITL, dur, n);
      wk(W_FOLD_ITERS, 1u);
      kv_b = bk;
      kv_c += 1u;
      itl_b = bi;
      itl_c += n;
      end = e2;
      k += 1u;
      run = decode_run_next(run);
    }
    if (kv_c > 0u) {
      ld();
      st();
      let i = ix(kv_b, H_STRIDE);
      hist[i] = hist[i] + kv_c;
    }
    if (itl_c > 0u) {
      ld();
      st();
      let i = ix(itl_b, H_STRIDE);
      hist[i] = hist[i] + itl_c;
    }
    kv_c = 0u;
    itl_c = 0u;
    if (!flush) { break; }
  }
  rs(R_USED, r, used);
  rs(R_K, r, k);
  rs(R_END, r, end);
  rs(R_BUSY, r, select(BUSY, BUSY_OPEN, open));
  return true;
}

// ---- iteration ends ----

fn complete(r: u32, s: u32, now: u32) {
  rs(R_USED, r, rg(R_USED, r) - sg(S_BLK, s));
  ss(S_BLK, s, 0u);
  rs(R_OUT, r, rg(R_OUT, r) - 1u);
  let i = sg(S_IDX, s);
  let output = t_output(i);
  let first = sg(S_FIRST, s);
  cnt_add(C_COMPLETED, 1u);
  cnt_add(C_OUTPUT_TOKENS, output);
  hadd(H_E2E, since_arrival(i, now), 1u);
  var tpot_ok = true;
  if (output > 1u) {
    let tpot = (now - first) / (output - 1u);
    hadd(H_TPOT, tpot, 1u);
    tpot_ok = tpot <= SLO_TPOT;
  }
  let ttft_ok = since_arrival(i, first) <= SLO_TTFT;
  if (ttft_ok) { cnt_add(C_TTFT_MET, 1u); }
  if (tpot_ok) { cnt_add(C_TPOT_MET, 1u); }
  if (ttft_ok && tpot_ok) { cnt_add(C_SLO_MET, 1u); }
  let t = add64(BASE, vec2<u32>(now, 0u));
  let w = 2u * C_MAKESPAN;
  if (t.y > cnt[w + 1u] || (t.y == cnt[w + 1u] && t.x > cnt[w])) {
    cnt[w] = t.x;
    cnt[w + 1u] = t.y;
  }
}

fn finish_iteration(r: u32, now: u32) {
  let k = rg(R_K, r);
  let first_end = rg(R_FEND, r);
  // Batch members are exactly the running requests with S_BTOK > 0; order does not matter here.
  // The walk breaks out for each completion and resumes after it, so completion code runs once per
  // completed request rather than (masked, on llvmpipe) once per member.
  var m = rg(R_RH, r);
  loop {
    tick();
    var s = 0u;
    var done = false;
    loop {
      tick();
      if (m == NIL) { break; }
      wk(W_VISITS, 1u);
      s = m - 1u;
      var rc = srec(REC_C, s);
      m = rc.z;
      let bt = rc.y;
      if (bt > 0u) {
        // Whole records: each load or store below is one per-lane loop on llvmpipe.
        var ra = srec(REC_A, s);
        var rb = srec(REC_B, s);
        rc.y = 0u;
        ra.z += bt * k; // context
        if (k > 1u) { rb.y = ceil_div(ra.z, BS); }
        let produces = (rc.x & F_PRODUCES) != 0u;
        rc.x &= ~F_PRODUCES;
        var gen = ra.w;
        if (produces) {
          let i = ra.x;
          // One histogram write for TTFT or ITL (one storage access pattern, not two).
          var h = H_ITL;
          var v = first_end - rb.w;
          if ((rc.x & F_FIRST) == 0u) {
            rc.x |= F_FIRST;
            rb.z = first_end;
            h = H_TTFT;
            v = since_arrival(i, first_end);
            hstat(H_TTFT, v, 1u);
          } else {
            hstat(H_ITL, v, 1u);
          }
          hist_bump(h, v, 1u);
          gen += k;
          ra.w = gen;
          rb.w = now;
        }
        swrec(REC_A, s, ra);
        swrec(REC_B, s, rb);
        swrec(REC_C, s, rc);
        if (produces && gen == t_output(ra.x)) {
          done = true;
          break;
        }
      }
    }
    if (!done) { break; }
    complete(r, s, now);
    running_remove(r, s);
    slot_free(s);
  }
  rs(R_BUSY, r, 0u);
}

// ---- clock ----

// Moves BASE forward by the largest span that keeps every stored time non-negative (the current
// instant, the first-iteration end of batches in progress, first and last token times of requests
// in flight) and returns it; stops the lane when an old request in flight allows less than 2^30 µs.
// Called rarely: once the clock passes 2^31 µs after BASE.
fn rebase(now: u32) -> u32 {
  var d = now;
  tick(); // loop entry (gallivm counts it too)
  for (var r = 0u; r < REPLICAS; r++) {
    tick();
    if (rrec0(r).x != 0u) { d = min(d, rg(R_FEND, r)); }
  }
  let high = lsg(LS_HIGH);
  tick();
  for (var s = 0u; s < high; s++) {
    tick();
    if ((sg(S_FLAGS, s) & F_FIRST) != 0u) { d = min(d, sg(S_FIRST, s)); }
  }
  if (d < 0x40000000u) {
    stop(ST_REBASE);
    return 0u;
  }
  tick();
  for (var r = 0u; r < REPLICAS; r++) {
    tick();
    var r0 = rrec0(r);
    if (r0.x != 0u) {
      r0.y -= d;
      st();
      reps[rix(0u, r)] = r0;
      rs(R_FEND, r, rg(R_FEND, r) - d);
    }
  }
  tick();
  for (var s = 0u; s < high; s++) {
    tick();
    if ((sg(S_FLAGS, s) & F_FIRST) != 0u) {
      var rb = srec(REC_B, s);
      rb.z -= d;
      rb.w -= d;
      swrec(REC_B, s, rb);
    }
  }
  BASE = add64(BASE, vec2<u32>(d, 0u));
  return d;
}

// ---- one event instant: iteration ends (by replica), arrivals (by index), idle replicas start ----

fn step() -> bool {
  var next = lsg(LS_NEXT);
  let first_next = next;
  var now = 0u;
  var any = false;
  tick(); // loop entry (gallivm counts it too)
  for (var r = 0u; r < REPLICAS; r++) {
    tick();
    let r0 = rrec0(r);
    if (r0.x != 0u) {
      let e = r0.y;
      if (!any || e < now) {
        now = e;
        any = true;
      }
    }
  }
  var next_t = FAR; // arrival `next` as a lane time
  if (next < TLEN) {
    next_t = t_arrival(next);
    // An idle lane holds no times: move BASE to an arrival more than 2^32 µs ahead.
    if (next_t == FAR && !any) {
      BASE = t_arrival_abs(next);
      next_t = 0u;
    }
    if (!any || next_t < now) { now = next_t; }
    any = true;
  }
  if (!any) {
    stop(ST_DONE);
    return false;
  }
  wk(W_INSTANTS, 1u);
  if (now >= 0x80000000u) {
    now -= rebase(now);
    if (lsg(LS_STATUS) != 0u) { return false; }
    if (next < TLEN) { next_t = t_arrival(next); }
  }
  // Only replicas that end now run finish_iteration's body: on llvmpipe a call under a false `if`
  // still runs (masked), while a loop runs as many times as its busiest lane needs, at least once.
  var r = 0u;
  loop {
    tick();
    loop {
      tick();
      if (r >= REPLICAS) { break; }
      let r0 = rrec0(r);
      if (r0.x != 0u && r0.y == now) { break; }
      r += 1u;
    }
    if (r >= REPLICAS) { break; }
    finish_iteration(r, now);
    r += 1u;
  }
  loop {
    tick();
    if (next >= TLEN || next_t != now) { break; }
    if (!arrive(next)) { return false; }
    next += 1u;
    next_t = FAR;
    if (next < TLEN) { next_t = t_arrival(next); }
    // A burst of same-instant arrivals into a long sorted queue can outrun the loop limiter in one
    // step: stop between arrivals and start nobody; the next step resumes at the same instant, where
    // no replica ends (all were finished), so the outcome is that of one uninterrupted step.
    if (budget_spent() && next < TLEN && next_t == now) {
      lss(LS_NEXT, next);
      return true;
    }
  }
  let arrived = next != first_next;
  lss(LS_NEXT, next);
  let has_next = next < TLEN;
  let next_arrival = next_t;
  // Folds this instant's arrivals did not go to run on to the next arrival.
  r = 0u;
  loop {
    tick();
    if (!arrived) { break; }
    loop {
      tick();
      if (r >= REPLICAS) { break; }
      if (rrec0(r).x == BUSY_OPEN) { break; }
      r += 1u;
    }
    if (r >= REPLICAS) { break; }
    if (!extend_fold(r, has_next, next_arrival)) { return false; }
    r += 1u;
  }
  r = 0u;
  loop {
    tick();
    loop {
      tick();
      if (r >= REPLICAS) { break; }
      let r0 = rrec0(r);
      if (r0.x == 0u && (r0.z > 0u || r0.w > 0u)) { break; }
      r += 1u;
    }
    if (r >= REPLICAS) { break; }
    if (!start_iteration(r, now, has_next, next_arrival)) { return false; }
    r += 1u;
  }
  return true;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  lane = gid.x;
  L = U.lanes;
  if (lane >= L) { return; }
  if (lsg(LS_STATUS) != 0u) { return; }
  TOFF = pg(P_TRACE_OFF);
  TLEN = pg(P_TRACE_LEN);
  REPLICAS = pg(P_REPLICAS);
  SEED = pg(P_SEED);
  KV = pg(P_KV);
  BS = pg(P_BS);
  MAXSEQS = pg(P_MAXSEQS);
  MAXBATCHED = pg(P_MAXBATCHED);
  MAXLEN = pg(P_MAXLEN);
  WM = pg(P_WM);
  SLO_TTFT = pg(P_SLO_TTFT);
  SLO_TPOT = pg(P_SLO_TPOT);
  for (var w = 0u; w < 26u; w++) { cnt[w] = lsg(LS_CNT + w); }
  for (var w = 0u; w < 30u; w++) { hst[w] = lsg(LS_H + w); }
  BASE = vec2<u32>(lsg(LS_BASE), lsg(LS_BASE + 1u));
  ticks = 0u;
  tick(); // loop entry (gallivm counts it too)
  for (var k = 0u; k < U.steps; k++) {
    tick();
    if (budget_spent()) { break; }
    if (!step()) { break; }
  }
  for (var w = 0u; w < 26u; w++) { lss(LS_CNT + w, cnt[w]); }
  for (var w = 0u; w < 30u; w++) { lss(LS_H + w, hst[w]); }
  lss(LS_BASE, BASE.x);
  lss(LS_BASE + 1u, BASE.y);
  if (WORK_COUNTERS) {
    for (var c = 0u; c < W_COUNT; c++) {
      let w = LS_WORK + 2u * c;
      let t = add64(vec2<u32>(ls[ix(w, LS_STRIDE)], ls[ix(w + 1u, LS_STRIDE)]), vec2<u32>(work[c], 0u));
      ls[ix(w, LS_STRIDE)] = t.x;
      ls[ix(w + 1u, LS_STRIDE)] = t.y;
    }
  }
  if (LOOP_PROBE && !loop_limit_intact()) {
    stop(ST_LOOP_LIMIT);
    return;
  }
  if (lsg(LS_STATUS) == 0u) { atomicAdd(&live[0], 1u); }
}
