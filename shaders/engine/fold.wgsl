// Fast-forward: a pure-decode batch repeats with every context one token longer until something
// outside changes, so iterations 2..k are folded into one replica event. Twin of startIteration's
// fold set-up and extendFold in src/sim/cpu/simulator.ts (docs/semantics.md "Fast-forward").

// The first iteration of a batch; a batch that folds adds its KV-use sample to the fold's run
// (start_fold) instead of writing it here.
fn record_iteration(duration: u32, folds: bool) {
  hstat(H_KV, rep.used, 1u);
  if (!folds) { hist_bump(H_KV, rep.used, 1u); }
  cnt_add(C_ITERATIONS, 1u);
  cnt_add(C_BUSY_US, duration);
}

// Starts the fold of the pure-decode batch of n requests just begun on replica r (its record 2 is
// f, its first iteration ends at `end` with `used` blocks in use) and extends it; returns the
// blocks in use after.
fn start_fold(r: u32, f: vec4<u32>, n: u32, end: u32, used: u32, has_next: bool, next_arrival: u32) -> u32 {
  let stored = rep_rec(3u, r);
  var runs = stored;
  runs.w = n;
  // The first iteration's KV-use sample joins the run (record_iteration left it out).
  let kv_bucket = bucket_of(used);
  if (runs.y > 0u && kv_bucket != runs.x >> 16u) {
    hist_bump_bucket(H_KV * HIST_BUCKETS + (runs.x >> 16u), runs.y);
    runs.y = 0u;
  }
  runs.x = (kv_bucket << 16u) | (runs.x & 0xffffu);
  runs.y += 1u;
  // Record 2 is written by extend_fold (f_stored: a value it never equals, so it always is).
  return extend_fold(r, f, vec4<u32>(0u), runs, stored, vec2<u32>(residues_lo, residues_hi), end, used, has_next, next_arrival);
}

// Extends replica r's open fold, whose last iteration so far ends at `end`.
fn continue_fold(r: u32, end: u32, used: u32, has_next: bool, next_arrival: u32) -> u32 {
  let runs = rep_rec(3u, r);
  var small = vec2<u32>(0u);
  if (runs.w <= 8u) { small = rep_rec(4u, r).zw; }
  let f = rep_rec(2u, r);
  return extend_fold(r, f, f, runs, runs, small, end, used, has_next, next_arrival);
}

// Adds replica r's fold iterations that start before the next arrival; the fold stays open
// (open_mask) if it stopped only there. f_in is its record 2 and runs_in its record 3 (f_stored and
// runs_stored what storage holds: records are written only if they change), small_residues its
// residues when it has up to 8 requests; `end` the end of its last iteration so far, `used` its KV
// blocks in use. Returns the blocks in use after.
fn extend_fold(r: u32, f_in: vec4<u32>, f_stored: vec4<u32>, runs_in: vec4<u32>, runs_stored: vec4<u32>, small_residues: vec2<u32>, end_in: u32, used_in: u32, has_next: bool, next_arrival: u32) -> u32 {
  var f = f_in; // (FOLD_CONTEXT, FOLD_MAX_K, K, FIRST_END)
  let context = f.x;
  let max_k = f.y;
  var k = f.z;
  // Histogram samples are written per run of equal buckets (KV use and ITL change slowly); the run
  // in progress stays in the replica across extensions and batches until its bucket changes (or
  // the lane ends: flush_fold_runs).
  var runs = runs_in; // (kv bucket << 16 | itl bucket, kv samples, itl samples, n)
  let n = runs.w;
  var end = end_in;
  var used = used_in;
  var free = cfg.kv_blocks - used;
  var open = false;
  // Requests whose context before iteration k is a multiple of the block size need a block: those
  // in residue (-k) mod blockSize. The residue index steps down by one per iteration (no division
  // in the loop). Up to 8 requests' residues are bytes of record 4 (matched in registers), more
  // are counted in the residue table, whose vec4 holding the index is loaded once per four iterations.
  let small = n <= 8u;
  var residue = (cfg.block_size - k % cfg.block_size) % cfg.block_size;
  var residues = vec4<u32>(0u, 0u, small_residues);
  if (!small) { residues = rep_rec(R_RESIDUE_RECORD + residue / 4u, r); }
  // Statistics of the folded iterations, added once at the end: iterations, their summed duration
  // (below 2^32: the fold's end stays a lane time), summed and largest KV use.
  var iterations = 0u;
  var duration_sum = 0u;
  var kv_sum = vec2<u32>(0u);
  var itl_max = 0u;
  // Iteration k lasts decode_run_us(run); the run steps on with a few u32 operations.
  var run = decode_run_at(n, context, k);
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
    var new_blocks: u32;
    if (small) {
      new_blocks = bytes_equal(residues.z, residue) + bytes_equal(residues.w, residue);
    } else {
      new_blocks = residues[residue % 4u];
    }
    if (new_blocks > free) { break; }
    free -= new_blocks;
    used += new_blocks;
    // Sample counts wrap mod 2^32 like the buckets they are added to.
    let kv_bucket = bucket_of(used);
    if (runs.y > 0u && kv_bucket != runs.x >> 16u) {
      hist_bump_bucket(H_KV * HIST_BUCKETS + (runs.x >> 16u), runs.y);
      runs.y = 0u;
    }
    let itl_bucket = bucket_of(dur);
    if (runs.z > 0u && itl_bucket != (runs.x & 0xffffu)) {
      hist_bump_bucket(H_ITL * HIST_BUCKETS + (runs.x & 0xffffu), runs.z);
      runs.z = 0u;
    }
    runs.x = (kv_bucket << 16u) | itl_bucket;
    runs.y += 1u;
    runs.z += n;
    iterations += 1u;
    duration_sum += dur;
    kv_sum = add64(kv_sum, vec2<u32>(used, 0u));
    itl_max = max(itl_max, dur);
    end = e2;
    k += 1u;
    run = decode_run_next(run);
    let previous = residue;
    residue = select(residue - 1u, cfg.block_size - 1u, residue == 0u);
    if (!small && residue / 4u != previous / 4u) { residues = rep_rec(R_RESIDUE_RECORD + residue / 4u, r); }
  }
  if (iterations > 0u) {
    count(W_FOLD_ITERATIONS, iterations);
    cnt_add(C_ITERATIONS, iterations);
    cnt_add(C_BUSY_US, duration_sum);
    hstat_sum(H_KV, vec2<u32>(iterations, 0u), kv_sum, used);
    hstat_sum(H_ITL, mul32x32(iterations, n), mul32x32(duration_sum, n), itl_max);
    f.z = k;
    set_end(r, end);
  }
  if (any(f != f_stored)) { rep_put(2u, r, f); }
  if (any(runs != runs_stored)) { rep_put(3u, r, runs); }
  if (open) { open_mask = mask_with(open_mask, r); } else { open_mask = mask_without(open_mask, r); }
  return used;
}

// Bytes of w equal to q (q < 0x80): zero bytes of w ^ q..q counted without carries between bytes.
fn bytes_equal(w: u32, q: u32) -> u32 {
  let x = w ^ (q * 0x01010101u);
  let y = ((x & 0x7f7f7f7fu) + 0x7f7f7f7fu) | x;
  return countOneBits(~y & 0x80808080u);
}

// Writes the histogram runs folds left in every replica (when the lane ends).
fn flush_fold_runs() {
  tick(); // loop entry (gallivm counts it too)
  for (var r = 0u; r < cfg.replicas; r++) {
    tick();
    let runs = rep_rec(3u, r);
    if (runs.y > 0u) { hist_bump_bucket(H_KV * HIST_BUCKETS + (runs.x >> 16u), runs.y); }
    if (runs.z > 0u) { hist_bump_bucket(H_ITL * HIST_BUCKETS + (runs.x & 0xffffu), runs.z); }
  }
}
