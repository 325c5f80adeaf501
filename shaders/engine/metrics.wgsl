// Counters and histograms. Twin of src/metrics (record.ts, histogram.ts).

// Counters and histogram statistics live in private variables for the whole dispatch (loaded and
// stored once in main): on llvmpipe every storage access is a per-lane scalar loop, and masked-off
// code still runs, so each call site below would cost a dozen of them.
var<private> cnt: array<u32, COUNTER_WORDS>; // (lo, hi) per counter, COUNTERS order
var<private> hst: array<u32, HIST_STAT_WORDS>; // (count lo, count hi, sum lo, sum hi, max) per histogram

fn cnt_add(c: u32, v: u32) {
  let s = add64(vec2<u32>(cnt[2u * c], cnt[2u * c + 1u]), vec2<u32>(v, 0u));
  cnt[2u * c] = s.x;
  cnt[2u * c + 1u] = s.y;
}

fn hist_bump_bucket(bucket: u32, times: u32) {
  let i = ix(bucket, H_STRIDE);
  count_load();
  count_store();
  hist[i] = hist[i] + times; // wraps like the CPU's Uint32Array
}

fn hist_bump(h: u32, value: u32, times: u32) { hist_bump_bucket(h * HIST_BUCKETS + bucket_of(value), times); }

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

// Adds `count` samples whose sum is `sum` and largest value `largest`; h constant at every call site.
fn hstat_sum(h: u32, count: vec2<u32>, sum: vec2<u32>, largest: u32) {
  let w = 5u * h;
  let c = add64(vec2<u32>(hst[w], hst[w + 1u]), count);
  hst[w] = c.x;
  hst[w + 1u] = c.y;
  let s = add64(vec2<u32>(hst[w + 2u], hst[w + 3u]), sum);
  hst[w + 2u] = s.x;
  hst[w + 3u] = s.y;
  hst[w + 4u] = max(hst[w + 4u], largest);
}

fn hadd(h: u32, value: u32, times: u32) {
  hist_bump(h, value, times);
  hstat(h, value, times);
}

fn load_metrics() {
  for (var q = 0u; q < COUNTER_WORDS / 4u; q++) {
    let v = lane_rec(LS_CNT / 4u + q);
    for (var c = 0u; c < 4u; c++) { cnt[4u * q + c] = v[c]; }
  }
  for (var q = 0u; q < HIST_STAT_WORDS / 4u; q++) {
    let v = lane_rec(LS_HIST / 4u + q);
    for (var c = 0u; c < 4u; c++) { hst[4u * q + c] = v[c]; }
  }
}

fn store_metrics() {
  for (var q = 0u; q < COUNTER_WORDS / 4u; q++) {
    lane_put(LS_CNT / 4u + q, vec4<u32>(cnt[4u * q], cnt[4u * q + 1u], cnt[4u * q + 2u], cnt[4u * q + 3u]));
  }
  for (var q = 0u; q < HIST_STAT_WORDS / 4u; q++) {
    lane_put(LS_HIST / 4u + q, vec4<u32>(hst[4u * q], hst[4u * q + 1u], hst[4u * q + 2u], hst[4u * q + 3u]));
  }
}
