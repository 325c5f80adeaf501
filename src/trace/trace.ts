// A parsed trace: columnar, sorted by arrival, times in integer microseconds from the first request.

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

/** Keeps requests whose original arrival lies in [startS, startS + durationS), re-based to 0. */
export function windowTrace(trace: Trace, startS = 0, durationS = Infinity): Trace {
  const startUs = Math.round(startS * 1e6);
  const endUs = durationS === Infinity ? Infinity : startUs + Math.round(durationS * 1e6);
  let lo = 0;
  while (lo < trace.arrivalUs.length && trace.arrivalUs[lo] < startUs) lo++;
  let hi = lo;
  while (hi < trace.arrivalUs.length && trace.arrivalUs[hi] < endUs) hi++;
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

/** Multiplies the arrival rate by `rateScale` (2 = twice the load): arrival' = floor(arrival / rateScale). */
export function scaleTrace(trace: Trace, rateScale: number): Trace {
  if (!(rateScale > 0) || !Number.isFinite(rateScale)) {
    throw new Error(`rate scale must be a positive number, got ${rateScale}`);
  }
  if (rateScale === 1) return trace;
  return { ...trace, arrivalUs: trace.arrivalUs.map((a) => Math.floor(a / rateScale)) };
}
