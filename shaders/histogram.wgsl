// Twin of src/metrics/histogram.ts bucketOf: log-linear buckets, SUB_BITS = 7, 1728 buckets over u32.
const SUB_BITS: u32 = 7u;
const HALF: u32 = 64u;
const HIST_BUCKETS: u32 = 1728u;

fn bucket_of(v: u32) -> u32 {
  if (v < (1u << SUB_BITS)) {
    return v;
  }
  let exponent = firstLeadingBit(v); // 31 - clz32(v) for v > 0
  let shift = exponent - (SUB_BITS - 1u);
  return ((shift + 1u) << (SUB_BITS - 1u)) + (v >> shift) - HALF;
}
