// Mesa llvmpipe's loop limiter, and the engine's work counters.
//
// llvmpipe caps the loop iterations of one SIMD group, all loops together, at 65535 per dispatch
// (gallivm's loop limiter) and then silently leaves the loops. Under LOOP_LIMITED a dispatch starts
// no new event once a lane has counted TICK_START_MAX iterations (an estimate: the compiler adds
// loops of its own), and a probe at the end detects an exhausted limiter exactly: such a lane stops
// and is re-run on the CPU (ST_LOOP_LIMIT). Off llvmpipe, budget_spent() is constant false.

var<private> ticks: u32;

fn tick() {
  ticks += 1u;
  count(W_LOOP_ITERATIONS, 1u);
}

// This dispatch's share of the loop limiter is used up: start nothing more.
fn budget_spent() -> bool { return LOOP_LIMITED && ticks > TICK_START_MAX; }

// A two-iteration loop whose trip count comes from a uniform (so it is not unrolled): with the
// limiter exhausted it stops after one, and this invocation's loops may have been cut short.
fn loop_limit_intact() -> bool {
  var probe = 0u;
  loop {
    probe += 1u;
    if (probe >= U.probe_trips + 2u) { break; }
  }
  return probe == U.probe_trips + 2u;
}

// Work counters (WORK_COUNTERS only; compiled out otherwise): per dispatch in private memory,
// added to the lane's u64 totals at the end of main.
var<private> work: array<u32, W_COUNT>;
fn count(c: u32, n: u32) { if (WORK_COUNTERS) { work[c] += n; } }
// Storage accesses are also counted by phase (a W_ACCESSES_* counter, set by enter()).
var<private> phase: u32;
fn enter(p: u32) { if (WORK_COUNTERS) { phase = p; } }
fn count_load() { count(W_STORAGE_LOADS, 1u); count(phase, 1u); }
fn count_loads(n: u32) { count(W_STORAGE_LOADS, n); count(phase, n); }
fn count_store() { count(W_STORAGE_STORES, 1u); count(phase, 1u); }

// (lo, hi) of counters 2q and 2q + 1 in record q; not counted as the engine's own work.
fn flush_work_counters() {
  if (!WORK_COUNTERS) { return; }
  for (var q = 0u; q < WORK_WORDS / 4u; q++) {
    let i = lane_ix(LS_WORK / 4u + q);
    var v = ls[i];
    for (var h = 0u; h < 2u; h++) {
      let c = 2u * q + h;
      if (c < W_COUNT) {
        let t = add64(vec2<u32>(v[2u * h], v[2u * h + 1u]), vec2<u32>(work[c], 0u));
        v[2u * h] = t.x;
        v[2u * h + 1u] = t.y;
      }
    }
    ls[i] = v;
  }
}
