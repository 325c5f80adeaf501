// The integer metrics of one lane (what both engines must agree on bit for bit) and the
// human-facing summary derived from it by one function for both engines.
import { BUCKETS, Histogram, summarize, type LatencySummary } from './histogram.js';

export const LATENCY_METRICS = ['ttft', 'tpot', 'itl', 'e2e', 'queue'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];
export const HISTOGRAMS = [...LATENCY_METRICS, 'kv'] as const;
export type HistogramName = (typeof HISTOGRAMS)[number];

export const COUNTERS = [
  'requests',
  'completed',
  'rejectedMaxModelLen',
  'rejectedKvCapacity',
  'preemptions',
  'preemptedRequests',
  'outputTokens',
  'sloMet',
  'ttftMet',
  'tpotMet',
  'iterations',
  'busyUs',
  'makespanUs',
  // Prefix caching (docs/semantics.md): admissions that looked up a cached prefix, those that found
  // one, the prompt tokens looked up and found, cached blocks evicted; admissions out of key order (lpm).
  'prefixLookups',
  'prefixHits',
  'prefixLookupTokens',
  'prefixHitTokens',
  'prefixEvictedBlocks',
  'admittedOutOfOrder',
] as const;
export type Counter = (typeof COUNTERS)[number];

/** Raw record: counters are exact integers; each histogram has exact count, sum and max. */
export type RawMetrics = Record<Counter, number> & { hist: Record<HistogramName, Histogram> };

export function emptyRaw(): RawMetrics {
  const counters = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>;
  const hist = Object.fromEntries(HISTOGRAMS.map((h) => [h, new Histogram()])) as Record<HistogramName, Histogram>;
  return { ...counters, hist };
}

/** Rebuilds a record that crossed a thread boundary (structured clone drops the Histogram class). */
export function reviveRaw(plain: unknown): RawMetrics {
  const src = plain as RawMetrics;
  const raw = emptyRaw();
  for (const c of COUNTERS) raw[c] = src[c];
  for (const h of HISTOGRAMS) Object.assign(raw.hist[h], src.hist[h]);
  return raw;
}

/** The first field where two records differ, or null when they are identical. */
export function firstDifference(a: RawMetrics, b: RawMetrics): string | null {
  for (const c of COUNTERS) if (a[c] !== b[c]) return `${c}: ${a[c]} vs ${b[c]}`;
  for (const h of HISTOGRAMS) {
    const x = a.hist[h];
    const y = b.hist[h];
    if (x.count !== y.count) return `${h}.count: ${x.count} vs ${y.count}`;
    if (x.sum !== y.sum) return `${h}.sum: ${x.sum} vs ${y.sum}`;
    if (x.max !== y.max) return `${h}.max: ${x.max} vs ${y.max}`;
    for (let i = 0; i < BUCKETS; i++) {
      if (x.counts[i] !== y.counts[i]) return `${h}.bucket[${i}]: ${x.counts[i]} vs ${y.counts[i]}`;
    }
  }
  return null;
}

export interface MetricsSummary {
  requests: number;
  completed: number;
  rejected: number;
  rejected_by_reason: { max_model_len: number; kv_capacity: number };
  preemptions: number;
  preempted_requests: number;
  preempted_fraction: number;
  ttft_ms: LatencySummary;
  tpot_ms: LatencySummary;
  itl_ms: LatencySummary;
  e2e_ms: LatencySummary;
  queue_ms: LatencySummary;
  throughput: { requests_per_s: number; output_tokens_per_s: number };
  kv_utilization: { mean: number; p99: number };
  slo: { ttft_ms: number; tpot_ms: number; attainment: number; ttft_attainment: number; tpot_attainment: number };
  iterations: number;
  makespan_s: number;
  /** Prefix caching (zeros when it is off): admissions and prompt tokens looked up and found cached, blocks evicted. */
  prefix_cache: {
    lookups: number;
    hits: number;
    hit_rate_requests: number;
    lookup_tokens: number;
    hit_tokens: number;
    hit_rate_tokens: number;
    evicted_blocks: number;
  };
  /** Admissions that passed a request waiting ahead in key order (a cache-aware order's overtaking). */
  admitted_out_of_order: number;
}

export function summarizeRaw(raw: RawMetrics, kvBlocks: number, slo: { ttftMs: number; tpotMs: number }): MetricsSummary {
  const seconds = raw.makespanUs / 1e6;
  const kv = summarize(raw.hist.kv);
  const share = (n: number) => (raw.requests === 0 ? 0 : n / raw.requests);
  return {
    requests: raw.requests,
    completed: raw.completed,
    rejected: raw.rejectedMaxModelLen + raw.rejectedKvCapacity,
    rejected_by_reason: { max_model_len: raw.rejectedMaxModelLen, kv_capacity: raw.rejectedKvCapacity },
    preemptions: raw.preemptions,
    preempted_requests: raw.preemptedRequests,
    preempted_fraction: share(raw.preemptedRequests),
    ttft_ms: summarize(raw.hist.ttft, 1000),
    tpot_ms: summarize(raw.hist.tpot, 1000),
    itl_ms: summarize(raw.hist.itl, 1000),
    e2e_ms: summarize(raw.hist.e2e, 1000),
    queue_ms: summarize(raw.hist.queue, 1000),
    throughput: {
      requests_per_s: seconds > 0 ? raw.completed / seconds : 0,
      output_tokens_per_s: seconds > 0 ? raw.outputTokens / seconds : 0,
    },
    kv_utilization: { mean: kv.mean / kvBlocks, p99: kv.p99 / kvBlocks },
    slo: {
      ttft_ms: slo.ttftMs,
      tpot_ms: slo.tpotMs,
      attainment: share(raw.sloMet),
      ttft_attainment: share(raw.ttftMet),
      tpot_attainment: share(raw.tpotMet),
    },
    iterations: raw.iterations,
    makespan_s: seconds,
    prefix_cache: {
      lookups: raw.prefixLookups,
      hits: raw.prefixHits,
      hit_rate_requests: raw.prefixLookups > 0 ? raw.prefixHits / raw.prefixLookups : 0,
      lookup_tokens: raw.prefixLookupTokens,
      hit_tokens: raw.prefixHitTokens,
      hit_rate_tokens: raw.prefixLookupTokens > 0 ? raw.prefixHitTokens / raw.prefixLookupTokens : 0,
      evicted_blocks: raw.prefixEvictedBlocks,
    },
    admitted_out_of_order: raw.admittedOutOfOrder,
  };
}
