// Log-linear integer histogram (HDR style), shared bit for bit with shaders/histogram.wgsl.
// Values are u32 (microseconds or blocks). Values below 2^SUB_BITS get their own bucket; above,
// each power of two is split into 2^(SUB_BITS-1) buckets, so a bucket spans at most 1/64 of its
// lower bound and the midpoint is within 0.78% of any value in it.

export const SUB_BITS = 7;
const HALF = 1 << (SUB_BITS - 1); // 64
export const BUCKETS = (34 - SUB_BITS) * HALF; // 1728 buckets cover all of u32

export function bucketOf(value: number): number {
  // Values above u32 (a latency over 71.6 min) go to the last bucket; count, sum and max stay exact.
  const v = value > 0xffffffff ? 0xffffffff : value >>> 0;
  if (v < 1 << SUB_BITS) return v;
  const exponent = 31 - Math.clz32(v);
  const shift = exponent - (SUB_BITS - 1);
  return ((shift + 1) << (SUB_BITS - 1)) + (v >>> shift) - HALF;
}

/** Smallest value that falls in `bucket`. */
export function bucketLow(bucket: number): number {
  if (bucket < 1 << SUB_BITS) return bucket;
  const shift = (bucket >>> (SUB_BITS - 1)) - 1;
  const mantissa = (bucket & (HALF - 1)) + HALF;
  return mantissa * 2 ** shift;
}

/** Width of `bucket` (number of distinct integers in it). */
export function bucketWidth(bucket: number): number {
  if (bucket < 1 << SUB_BITS) return 1;
  return 2 ** ((bucket >>> (SUB_BITS - 1)) - 1);
}

/** The value reported for a bucket: the integer midpoint, exact for unit-width buckets. */
export function bucketValue(bucket: number): number {
  return bucketLow(bucket) + Math.floor((bucketWidth(bucket) - 1) / 2);
}

/** Counts per bucket plus exact count, sum and max; all integers so both engines agree. */
export class Histogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0; // exact: stays far below 2^53 for any u32 sample count we allow
  max = 0;

  add(value: number, times = 1): void {
    this.counts[bucketOf(value)] += times;
    this.count += times;
    this.sum += value * times;
    if (value > this.max) this.max = value;
  }
}

/** Nearest-rank percentile: the bucket holding sample number ceil(p/100 * count). */
export function percentileBucket(counts: ArrayLike<number>, count: number, percent: number): number {
  if (count === 0) return -1;
  const rank = Math.max(1, Math.ceil((percent * count) / 100));
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    seen += counts[b];
    if (seen >= rank) return b;
  }
  return counts.length - 1;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summary in the histogram's unit divided by `unit` (1000 turns microseconds into milliseconds). */
export function summarize(h: { counts: ArrayLike<number>; count: number; sum: number; max: number }, unit = 1): LatencySummary {
  const pick = (p: number) => {
    const b = percentileBucket(h.counts, h.count, p);
    // The top bucket's midpoint can exceed the largest sample; never report above max.
    return b < 0 ? 0 : Math.min(bucketValue(b), h.max) / unit;
  };
  return {
    count: h.count,
    mean: h.count === 0 ? 0 : h.sum / h.count / unit,
    p50: pick(50),
    p90: pick(90),
    p99: pick(99),
    max: h.max / unit,
  };
}
