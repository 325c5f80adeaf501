// The iteration-time model (docs/profiles.md): exact integer arithmetic, identical on the CPU and in
// WGSL (twin: src/model/iteration.wgsl, which reads the words packModelWords produces).
//
//   ps = 1000 * (base + perPrefillToken*P + perDecodeSeq*D + perContextToken*(Cd + Cp) + perPrefillSeq*Np)
//        + perDecodeContextTokenPs*Cd + perPrefillContextTokenPs*Cp + perAttendedPairPs*Ap
//        + sum over segments j of perBatchTokenPs[j].ps * (tokens of T = P + D inside segment j)
//   us = ceil(ps / 10^6)
//
// Every product and partial sum is a non-negative integer no larger than the total, and
// checkIterationBound keeps the worst-case total at or below MAX_ITERATION_PS (< 2^52), so doubles
// hold every step exactly and the order of evaluation cannot change the result; the only rounding is
// the final ceiling to whole microseconds.

/** Largest iteration in picoseconds: its microseconds (rounded up) still fit u32 (71.6 minutes). */
export const MAX_ITERATION_PS = (2 ** 32 - 1) * 1e6;
/** Segments of the batch-token table (perBatchTokenPs); a fixed number keeps the GPU packing fixed. */
export const MAX_TOKEN_SEGMENTS = 16;
/** u32 words one model packs into (packModelWords, model_word in iteration.wgsl). */
export const MODEL_WORDS = 8 + 2 * MAX_TOKEN_SEGMENTS;
/** Padding for unused segments: a start no batch reaches. */
const NO_SEGMENT = 0xffffffff;

/** The `iterationNs` object of a profile after validation (every field present). */
export interface IterationModel {
  base: number;
  perPrefillToken: number;
  perDecodeSeq: number;
  perContextToken: number;
  perPrefillSeq: number;
  perDecodeContextTokenPs: number;
  perPrefillContextTokenPs: number;
  perAttendedPairPs: number;
  /** [first token of the segment, ps per batch token within it], starts strictly increasing. */
  perBatchTokenPs: [number, number][];
}

/** What the engines sum over one iteration's batch. */
export interface BatchSums {
  /** P: prompt tokens processed (the chunks of requests in prefill). */
  prompt: number;
  /** D: requests decoding one token. */
  decodes: number;
  /** Np: requests in prefill. */
  prefills: number;
  /** Cd: sum over decoding requests of their context after the iteration. */
  decodeContext: number;
  /** Cp: sum over prefilling requests of their context after the iteration. */
  prefillContext: number;
  /** Ap: query-key pairs prefill attention computes, sum of attendedPairs(chunk, context before). */
  pairs: number;
}

export const emptySums = (): BatchSums => ({ prompt: 0, decodes: 0, prefills: 0, decodeContext: 0, prefillContext: 0, pairs: 0 });

/** Causal attention of a chunk of c tokens after k stored ones: c*k + c*(c+1)/2 query-key pairs. */
export function attendedPairs(chunk: number, contextBefore: number): number {
  return chunk * contextBefore + (chunk * (chunk + 1)) / 2;
}

/** Adds one scheduled request (context before, tokens this iteration) to the sums. */
export function addToSums(s: BatchSums, contextBefore: number, tokens: number, inPrefill: boolean): void {
  if (inPrefill) {
    s.prompt += tokens;
    s.prefills++;
    s.prefillContext += contextBefore + tokens;
    s.pairs += attendedPairs(tokens, contextBefore);
  } else {
    s.decodes++;
    s.decodeContext += contextBefore + tokens;
  }
}

/** Picoseconds of the batch-token table at T tokens. */
export function batchTokensPs(segments: readonly [number, number][], tokens: number): number {
  let ps = 0;
  for (let j = 0; j < segments.length; j++) {
    const [from, perToken] = segments[j];
    if (tokens <= from) break;
    const to = j + 1 < segments.length ? Math.min(tokens, segments[j + 1][0]) : tokens;
    ps += perToken * (to - from);
  }
  return ps;
}

export function iterationPs(m: IterationModel, b: BatchSums): number {
  const ns =
    m.base + m.perPrefillToken * b.prompt + m.perDecodeSeq * b.decodes + m.perContextToken * (b.decodeContext + b.prefillContext) + m.perPrefillSeq * b.prefills;
  return (
    ns * 1000 +
    m.perDecodeContextTokenPs * b.decodeContext +
    m.perPrefillContextTokenPs * b.prefillContext +
    m.perAttendedPairPs * b.pairs +
    batchTokensPs(m.perBatchTokenPs, b.prompt + b.decodes)
  );
}

/** ceil(ps / 10^6), exact for any integer below 2^53. */
export function psToUs(ps: number): number {
  let q = Math.floor(ps / 1e6);
  let r = ps - q * 1e6;
  if (r < 0) {
    q--;
    r += 1e6;
  } else if (r >= 1e6) {
    q++;
    r -= 1e6;
  }
  return r > 0 ? q + 1 : q;
}

/** Iteration time in whole microseconds, rounded up. */
export function iterationUs(m: IterationModel, b: BatchSums): number {
  return psToUs(iterationPs(m, b));
}

/**
 * A run of pure-decode iterations (fast-forward): n requests decode, the k-th iteration (k = 0 the
 * first) attends decodeContext + k*n tokens, so it lasts firstPs + stepPs*k picoseconds, exactly what
 * iterationPs gives for it.
 */
export interface DecodeRun {
  firstPs: number;
  stepPs: number;
}

export function decodeRun(m: IterationModel, n: number, decodeContext: number): DecodeRun {
  const firstPs = iterationPs(m, { ...emptySums(), decodes: n, decodeContext });
  return { firstPs, stepPs: (m.perContextToken * 1000 + m.perDecodeContextTokenPs) * n };
}

export function decodeRunUs(run: DecodeRun, k: number): number {
  return psToUs(run.firstPs + run.stepPs * k);
}

/**
 * Upper bound of any iteration's picoseconds under these limits: every count at its largest at once.
 * T <= tokenBudget + maxNumSeqs, context sums <= the KV tokens, a request's context after its chunk
 * <= min(maxModelLen, KV tokens), so Ap <= P * that.
 */
export function worstIterationPs(
  m: IterationModel,
  limits: { tokenBudget: number; maxNumSeqs: number; kvTokens: number; maxModelLen: number },
): number {
  const { tokenBudget, maxNumSeqs, kvTokens } = limits;
  const longest = Math.min(limits.maxModelLen, kvTokens);
  const ns = m.base + m.perPrefillToken * tokenBudget + m.perDecodeSeq * maxNumSeqs + m.perContextToken * kvTokens + m.perPrefillSeq * Math.min(maxNumSeqs, tokenBudget);
  return (
    ns * 1000 +
    Math.max(m.perDecodeContextTokenPs, m.perPrefillContextTokenPs) * kvTokens +
    m.perAttendedPairPs * tokenBudget * longest +
    batchTokensPs(m.perBatchTokenPs, tokenBudget + maxNumSeqs)
  );
}

/**
 * The model as MODEL_WORDS u32 words, the layout iteration.wgsl reads through model_word(i):
 *   0 base, 1 perPrefillToken, 2 perDecodeSeq, 3 perContextToken, 4 perPrefillSeq (ns),
 *   5 perDecodeContextTokenPs, 6 perPrefillContextTokenPs, 7 perAttendedPairPs (ps),
 *   8 + j: start of segment j, 8 + MAX_TOKEN_SEGMENTS + j: its ps per token (j < MAX_TOKEN_SEGMENTS);
 *   unused segments start at 2^32 - 1 with 0 ps, so no batch reaches them.
 */
export function packModelWords(m: IterationModel): Uint32Array {
  const w = new Uint32Array(MODEL_WORDS);
  [m.base, m.perPrefillToken, m.perDecodeSeq, m.perContextToken, m.perPrefillSeq, m.perDecodeContextTokenPs, m.perPrefillContextTokenPs, m.perAttendedPairPs].forEach(
    (v, i) => (w[i] = v),
  );
  for (let j = 0; j < MAX_TOKEN_SEGMENTS; j++) {
    const seg = m.perBatchTokenPs[j];
    w[8 + j] = seg ? seg[0] : NO_SEGMENT;
    w[8 + MAX_TOKEN_SEGMENTS + j] = seg ? seg[1] : 0;
  }
  return w;
}

/** The WGSL twin, for shaders that include it (after shaders/u64.wgsl). */
export const ITERATION_WGSL = new URL('./iteration.wgsl', import.meta.url);
