import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketLow, bucketOf, bucketValue, bucketWidth, Histogram, summarize } from '../../src/metrics/histogram.js';
import { draw } from '../../src/rng.js';

describe('log-linear histogram buckets', () => {
  it('maps small values to themselves and u32 max to the last bucket', () => {
    for (let v = 0; v < 128; v++) expect(bucketOf(v)).toBe(v);
    expect(bucketOf(0xffffffff)).toBe(BUCKETS - 1);
    // A latency over 71.6 minutes does not wrap around to a small bucket.
    expect(bucketOf(2 ** 32)).toBe(BUCKETS - 1);
    expect(bucketOf(2 ** 32 + 100)).toBe(BUCKETS - 1);
  });

  it('is monotone and every bucket is [low, low + width)', () => {
    for (let b = 0; b < BUCKETS; b++) {
      const lo = bucketLow(b);
      const w = bucketWidth(b);
      expect(bucketOf(lo)).toBe(b);
      expect(bucketOf(lo + w - 1)).toBe(b);
      if (b + 1 < BUCKETS) expect(bucketLow(b + 1)).toBe(lo + w);
    }
  });

  it('reports a value within 1% of anything in the bucket', () => {
    for (let i = 0; i < 200_000; i++) {
      const v = draw(1, 0, i) >>> (draw(1, 1, i) % 32);
      const rep = bucketValue(bucketOf(v));
      expect(Math.abs(rep - v)).toBeLessThanOrEqual(Math.max(0, v * 0.01));
    }
  });
});

describe('percentiles from the histogram', () => {
  it('agree with exact nearest-rank percentiles within 1%', () => {
    for (let trial = 0; trial < 20; trial++) {
      const h = new Histogram();
      const samples: number[] = [];
      const n = 1 + (draw(trial, 2, 0) % 5000);
      for (let i = 0; i < n; i++) {
        // Lognormal-ish latencies in microseconds: 1 ms to minutes.
        const v = Math.floor(1000 * Math.exp(((draw(trial, 3, i) % 10_000) / 10_000) * 11));
        samples.push(v);
        h.add(v);
      }
      samples.sort((a, b) => a - b);
      const exact = (p: number) => samples[Math.max(1, Math.ceil((p * n) / 100)) - 1];
      const s = summarize(h);
      for (const [p, got] of [[50, s.p50], [90, s.p90], [99, s.p99]] as const) {
        expect(Math.abs(got - exact(p))).toBeLessThanOrEqual(exact(p) * 0.01);
      }
      expect(s.max).toBe(samples[n - 1]);
      expect(s.mean).toBeCloseTo(samples.reduce((a, b) => a + b, 0) / n, 6);
    }
  });

  it('weights repeated samples', () => {
    const h = new Histogram();
    h.add(5000, 3);
    h.add(7, 1);
    expect([h.count, h.sum, h.max]).toEqual([4, 15007, 5000]);
    // The midpoint of 5000's bucket is above the largest sample, so the report is clamped to max.
    expect(bucketValue(bucketOf(5000))).toBeGreaterThan(5000);
    expect(summarize(h).p50).toBe(5000);
  });
});
