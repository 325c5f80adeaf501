// Fast-forward: a pure-decode batch repeats with every context one token longer until something
// outside changes, so iterations 2..k are folded into one replica event. Twin of startIteration's
// fold set-up and extendFold in src/sim/cpu/simulator.ts (docs/semantics.md "Fast-forward").

fn record_iteration(duration: u32) {
  hadd(H_KV, rep.used, 1u);
  cnt_add(C_ITERATIONS, 1u);
  cnt_add(C_BUSY_US, duration);
}

// Adds the open replica's fold iterations that start before the next arrival; the fold stays open
// (open_mask) if it stopped only there. The batch is every running request (rep.running of them).
fn extend_fold(has_next: bool, next_arrival: u32) {
  let r = rep_index;
  let f = rep_rec(2u, r); // (FIRST_END, FOLD_CONTEXT, FOLD_MAX_K, PREV_END)
  let context = f.y;
  let max_k = f.z;
  let n = rep.running;
  var k = rep.k;
  var end = end_of(r);
  var free = cfg.kv_blocks - rep.used;
  var open = false;
  // Requests whose context before iteration k is a multiple of the block size need a block: those
  // in residue (-k) mod blockSize. The residue index steps down by one per iteration (no division
  // in the loop), and the vec4 holding it is loaded once per four iterations.
  var residue = (cfg.block_size - k % cfg.block_size) % cfg.block_size;
  var residues = rep_rec(R_RESIDUE_RECORD + residue / 4u, r);
  // Statistics of the folded iterations, added once at the end: iterations, their summed duration
  // (below 2^32: the fold's end stays a lane time), summed and largest KV use.
  var iterations = 0u;
  var duration_sum = 0u;
  var kv_sum = vec2<u32>(0u);
  var kv_max = 0u;
  var itl_max = 0u;
  // Histogram writes are batched per run of equal buckets (KV use and ITL change slowly): the walk
  // breaks out to write when a bucket changes, then resumes.
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
      let new_blocks = residues[residue % 4u];
      if (new_blocks > free) { break; }
      let used = rep.used + new_blocks;
      let bk = H_KV * HIST_BUCKETS + bucket_of(used);
      let bi = H_ITL * HIST_BUCKETS + bucket_of(dur);
      if ((kv_times > 0u && bk != kv_bucket) || (itl_times > 0u && bi != itl_bucket)) {
        flush = true;
        break;
      }
      free -= new_blocks;
      rep.used = used;
      iterations += 1u;
      duration_sum += dur;
      kv_sum = add64(kv_sum, vec2<u32>(used, 0u));
      kv_max = max(kv_max, used);
      itl_max = max(itl_max, dur);
      kv_bucket = bk;
      kv_times += 1u;
      itl_bucket = bi;
      itl_times += n;
      end = e2;
      k += 1u;
      let previous = residue;
      residue = select(residue - 1u, cfg.block_size - 1u, residue == 0u);
      if (residue / 4u != previous / 4u) { residues = rep_rec(R_RESIDUE_RECORD + residue / 4u, r); }
    }
    if (kv_times > 0u) { hist_bump_bucket(kv_bucket, kv_times); }
    if (itl_times > 0u) { hist_bump_bucket(itl_bucket, itl_times); }
    kv_times = 0u;
    itl_times = 0u;
    if (!flush) { break; }
  }
  if (iterations > 0u) {
    count(W_FOLD_ITERATIONS, iterations);
    cnt_add(C_ITERATIONS, iterations);
    cnt_add(C_BUSY_US, duration_sum);
    hstat_sum(H_KV, vec2<u32>(iterations, 0u), kv_sum, kv_max);
    hstat_sum(H_ITL, mul32x32(iterations, n), mul32x32(duration_sum, n), itl_max);
  }
  rep.k = k;
  set_end(r, end);
  if (open) { open_mask = mask_with(open_mask, r); } else { open_mask = mask_without(open_mask, r); }
}
