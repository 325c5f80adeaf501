// A parsed trace: columnar, sorted by arrival, times in integer microseconds from the first request.
import { TraceError } from './errors.js';

/**
 * Latest arrival a trace may hold, in µs from its first request (2^52 µs, about 142 years): exact
 * in a double with as much again left for the simulated clock to run past the last arrival.
 * Readers apply it, and so do windows and rate scales, so no path yields arrivals that lose
 * precision (a rate scale of 1e-300 used to turn every latency into 0).
 */
export const MAX_ARRIVAL_US = 2 ** 52;

export interface Trace {
  /** Short name for reports (file name or generator description). */
  name: string;
  /** Where it came from: a path, or the generator spec. */
  source: string;
  arrivalUs: Float64Array; // integers, non-decreasing, first is 0 after loading
  promptTokens: Uint32Array; // >= 1
  outputTokens: Uint32Array; // >= 1
  /**
   * Optional prefix-block hashes (Mooncake `hash_ids`, the sessions workload): hashes of request i are
   * prefixHashes[prefixOffsets[i] .. prefixOffsets[i+1]), one per `prefixBlockTokens` tokens of its
   * prompt (the last may cover fewer); equal hashes at the same depth mean a shared prompt prefix.
   */
  prefixHashes?: Uint32Array;
  prefixOffsets?: Uint32Array;
  /** Prompt tokens per prefix hash (512 for Mooncake); set whenever prefixHashes is. */
  prefixBlockTokens?: number;
  /** Rows skipped under --skip-bad-rows; always reported, never silent. */
  skippedRows: number;
}

export function traceLength(trace: Trace): number {
  return trace.arrivalUs.length;
}

function beyondLimit(what: string, lastUs: number): TraceError {
  const when = Number.isFinite(lastUs) ? `${lastUs.toPrecision(4)} µs (${(lastUs / 3.15576e13).toPrecision(3)} years)` : 'beyond 1e308 µs';
  return new TraceError(`${what}: the last request would arrive ${when} after the first, beyond the 2^52 µs (about 142 years) that arrival times may span`);
}

/** The trace itself, after checking that its arrivals are integers in [0, MAX_ARRIVAL_US]; `what` names it in the error. */
export function checkTraceLimits(trace: Trace, what: string): Trace {
  const n = trace.arrivalUs.length;
  if (n === 0) return trace;
  if (!(trace.arrivalUs[0] >= 0)) throw new TraceError(`${what}: the first arrival (${trace.arrivalUs[0]} µs) is negative`);
  const last = trace.arrivalUs[n - 1];
  if (!(last <= MAX_ARRIVAL_US)) throw beyondLimit(what, last);
  return trace;
}

/** First index whose arrival is >= t (arrivals are sorted). */
function lowerBound(arrivals: Float64Array, t: number): number {
  let lo = 0;
  let hi = arrivals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arrivals[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The requests of a window: indices [lo, hi) of those arriving in [startS, startS + durationS), and the start in µs. */
export function windowRange(trace: Trace, startS = 0, durationS = Infinity): { lo: number; hi: number; startUs: number } {
  const startUs = Math.round(startS * 1e6);
  const endUs = durationS === Infinity ? Infinity : startUs + Math.round(durationS * 1e6);
  const lo = lowerBound(trace.arrivalUs, startUs);
  return { lo, hi: Math.max(lo, lowerBound(trace.arrivalUs, endUs)), startUs };
}

/**
 * Why scaling the window [lo, hi) of `trace` by `rateScale` would leave the trace limits (a
 * TraceError), or null: scaleTrace's check, without building the trace.
 */
export function scaledWindowProblem(trace: Trace, range: { lo: number; hi: number; startUs: number }, rateScale: number): TraceError | null {
  if (!(rateScale > 0) || !Number.isFinite(rateScale)) return new TraceError(`rate scale must be a positive number, got ${rateScale}`);
  if (range.hi === range.lo) return null;
  const last = (trace.arrivalUs[range.hi - 1] - range.startUs) / rateScale;
  return last <= MAX_ARRIVAL_US ? null : beyondLimit(`trace ${trace.name} at rate scale ${rateScale}`, last);
}

/** Keeps requests whose original arrival lies in [startS, startS + durationS), re-based to 0. */
export function windowTrace(trace: Trace, startS = 0, durationS = Infinity): Trace {
  const { lo, hi, startUs } = windowRange(trace, startS, durationS);
  const arrivalUs = trace.arrivalUs.slice(lo, hi);
  for (let i = 0; i < arrivalUs.length; i++) arrivalUs[i] -= startUs;
  const out: Trace = {
    ...trace,
    arrivalUs,
    promptTokens: trace.promptTokens.slice(lo, hi),
    outputTokens: trace.outputTokens.slice(lo, hi),
  };
  if (trace.prefixHashes && trace.prefixOffsets) {
    const from = trace.prefixOffsets[lo];
    const to = trace.prefixOffsets[hi];
    out.prefixHashes = trace.prefixHashes.slice(from, to);
    out.prefixOffsets = trace.prefixOffsets.slice(lo, hi + 1).map((o) => o - from);
  }
  return out;
}

/**
 * Multiplies the arrival rate by `rateScale` (2 = twice the load): arrival' = floor(arrival / rateScale).
 * A scale that would stretch the trace beyond MAX_ARRIVAL_US is a TraceError.
 */
export function scaleTrace(trace: Trace, rateScale: number): Trace {
  const problem = scaledWindowProblem(trace, { lo: 0, hi: trace.arrivalUs.length, startUs: 0 }, rateScale);
  if (problem) throw problem;
  if (rateScale === 1) return trace;
  return { ...trace, arrivalUs: trace.arrivalUs.map((a) => Math.floor(a / rateScale)) };
}
