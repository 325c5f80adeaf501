// Fast-forward: a pure-decode batch repeats with every context one token longer until something
// outside changes, so iterations 2..k are folded into one replica event. Twin of startIteration's
// fold set-up and extendFold in src/sim/cpu/simulator.ts (docs/semantics.md "Fast-forward").

const BUSY: u32 = 1u; // an iteration or fold in progress
const BUSY_OPEN: u32 = 2u; // a fold that arrivals routed elsewhere lengthen

fn record_iteration(r: u32, duration: u32, new_blocks: u32) {
  let used = rep_get(R_USED, r) + new_blocks;
  rep_set(R_USED, r, used);
  hadd(H_KV, used, 1u);
  cnt_add(C_ITERATIONS, 1u);
  cnt_add(C_BUSY_US, duration);
}

// Sets up the fold of the pure-decode batch just started on replica r (context tokens of its first
// iteration, requests by context mod block size, iterations until its first completion), then
// extends it to the next arrival.
fn start_fold(r: u32, context: u32, n: u32, has_next: bool, next_arrival: u32) -> bool {
  tick(); // loop entry (gallivm counts it too)
  for (var q = 0u; q < cfg.block_size; q += 4u) {
    tick();
    rep_put(R_RESIDUE_RECORD + q / 4u, r, vec4<u32>(0u));
  }
  var max_k = 0xffffffffu;
  var m = rep_get(R_R_HEAD, r);
  loop {
    tick();
    if (m == NIL) { break; }
    count(W_VISITS, 1u);
    let s = m - 1u;
    let a = slot_rec(REC_A, s);
    max_k = min(max_k, trace_output(a.x) - a.w);
    let q = a.z % cfg.block_size;
    residue_set(r, q, residue_get(r, q) + 1u);
    m = slot_get(S_NEXT, s);
  }
  rep_put(R_FOLD_RECORD, r, vec4<u32>(context, max_k, n, 0u));
  return extend_fold(r, has_next, next_arrival);
}

fn residue_get(r: u32, q: u32) -> u32 { count_load(); return reps[rep_ix(R_RESIDUE_RECORD + q / 4u, r)][q % 4u]; }
fn residue_set(r: u32, q: u32, v: u32) { count_store(); reps[rep_ix(R_RESIDUE_RECORD + q / 4u, r)][q % 4u] = v; }

// Adds the fold's iterations that start before the next arrival; the fold stays open (BUSY_OPEN)
// if it stopped only there.
fn extend_fold(r: u32, has_next: bool, next_arrival: u32) -> bool {
  let f = rep_rec(R_FOLD_RECORD, r);
  let context = f.x;
  let max_k = f.y;
  let n = f.z;
  var k = rep_get(R_K, r);
  var end = rep_get(R_END, r);
  var used = rep_get(R_USED, r);
  var free = cfg.kv_blocks - used;
  var open = false;
  // Histogram writes of folded iterations are batched per run of equal buckets (KV use and ITL
  // change slowly): the walk breaks out to write when a bucket changes, then resumes.
  var kv_bucket = 0u;
  var kv_times = 0u;
  var itl_bucket = 0u;
  var itl_times = 0u;
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
      let dur = iteration_us(0u, n, context + k * n);
      let e2 = end + dur;
      // Ends the fold here; step() rebases the clock before the replica's next iteration.
      if (e2 < end || e2 == FAR) { break; }
      // Requests whose context before this iteration is a multiple of the block size need a block.
      let new_blocks = residue_get(r, (cfg.block_size - (k % cfg.block_size)) % cfg.block_size);
      if (new_blocks > free) { break; }
      let bk = H_KV * HIST_BUCKETS + bucket_of(used + new_blocks);
      let bi = H_ITL * HIST_BUCKETS + bucket_of(dur);
      if ((kv_times > 0u && bk != kv_bucket) || (itl_times > 0u && bi != itl_bucket)) {
        flush = true;
        break;
      }
      free -= new_blocks;
      used += new_blocks;
      // record_iteration and hadd(H_ITL, dur, n), histogram buckets deferred
      hstat(H_KV, used, 1u);
      cnt_add(C_ITERATIONS, 1u);
      cnt_add(C_BUSY_US, dur);
      hstat(H_ITL, dur, n);
      count(W_FOLD_ITERATIONS, 1u);
      kv_bucket = bk;
      kv_times += 1u;
      itl_bucket = bi;
      itl_times += n;
      end = e2;
      k += 1u;
    }
    if (kv_times > 0u) { hist_bump_bucket(kv_bucket, kv_times); }
    if (itl_times > 0u) { hist_bump_bucket(itl_bucket, itl_times); }
    kv_times = 0u;
    itl_times = 0u;
    if (!flush) { break; }
  }
  rep_set(R_USED, r, used);
  rep_set(R_K, r, k);
  rep_set(R_END, r, end);
  rep_set(R_BUSY, r, select(BUSY, BUSY_OPEN, open));
  return true;
}
