// Fits an iteration model to measured iterations: non-negative least squares on relative error over
// the model's terms (each term is linear in its coefficient, the batch-token table included: a
// segment's slope multiplies the batch's tokens inside that segment), then integer coefficients, and
// the fit error of that integer model per regime.
import { fcnnlsVector } from 'ml-fcnnls';
import { iterationPs, iterationUs, MAX_TOKEN_SEGMENTS, type BatchSums, type IterationModel } from '../model/iteration.js';
import { ConfigError } from '../model/profile.js';
import { REGIMES, type MeasuredIteration, type Regime } from './tables.js';
import { FIT_TERMS, type FitTerm } from './terms.js';

export { FIT_TERMS, type FitTerm };


/** Picoseconds one unit of a term's coefficient adds to an iteration with these sums. */
function termPs(term: FitTerm, s: BatchSums): number {
  switch (term) {
    case 'base':
      return 1000;
    case 'perPrefillToken':
      return 1000 * s.prompt;
    case 'perPrefillSeq':
      return 1000 * s.prefills;
    case 'perDecodeContextTokenPs':
      return s.decodeContext;
    case 'perPrefillContextTokenPs':
      return s.prefillContext;
    case 'perAttendedPairPs':
      return s.pairs;
  }
}

export interface FitOptions {
  /** Terms to fit; the others stay as in `pinned` (or 0). */
  terms: readonly FitTerm[];
  /** Segment starts of the batch-token table; default: chosen greedily from the data (chooseKnots). */
  knots?: number[];
  /** Coefficients held fixed (not fitted); their share is part of both the target and the prediction. */
  pinned?: Partial<Record<FitTerm, number>>;
}

export interface RegimeError {
  batches: number;
  /** |predicted / measured - 1|, as fractions. */
  median: number;
  p90: number;
  max: number;
  /** Mean of predicted / measured - 1 (positive: the model is slow). */
  bias: number;
}

export interface FitResult {
  model: IterationModel;
  errors: Partial<Record<Regime, RegimeError>>;
}

interface Problem {
  /** Rows: picoseconds per unit of each free term, then per unit slope of each candidate segment, over the measured ps. */
  data: MeasuredIteration[];
  terms: FitTerm[];
  pinned: IterationModel;
}

/** Least-squares solution for these segment starts: coefficients (terms, then slopes) and squared relative residual. */
function solve(p: Problem, knots: number[]): { k: number[]; ssr: number } {
  const rows: number[][] = [];
  const target: number[] = [];
  for (const it of p.data) {
    const measuredPs = it.ms * 1e9;
    const w = 1 / measuredPs;
    const tokens = it.sums.prompt + it.sums.decodes;
    const row = p.terms.map((t) => termPs(t, it.sums) * w);
    knots.forEach((start, j) => row.push(Math.max(0, (j + 1 < knots.length ? Math.min(tokens, knots[j + 1]) : tokens) - start) * w));
    rows.push(row);
    target.push((measuredPs - iterationPs(p.pinned, it.sums)) * w);
  }
  // Unit-norm columns give the solver comparable magnitudes.
  const norms = rows[0].map((_, c) => Math.sqrt(rows.reduce((s, r) => s + r[c] * r[c], 0)) || 1);
  const scaled = rows.map((r) => r.map((v, c) => v / norms[c]));
  let x: number[];
  try {
    x = fcnnlsVector(scaled, target, { maxIterations: 30 * norms.length }).K.to1DArray();
  } catch {
    // The active-set method can cycle on nearly collinear columns; a looser tolerance ends it.
    try {
      x = fcnnlsVector(scaled, target, { maxIterations: 30 * norms.length, gradientTolerance: 1e-3 }).K.to1DArray();
    } catch (e) {
      throw new ConfigError(`calibrate: the least-squares fit did not converge (${(e as Error).message}); give fewer --knots or pin terms`);
    }
  }
  const k = x.map((v, c) => Math.max(0, v / norms[c]));
  let ssr = 0;
  rows.forEach((r, i) => {
    const e = r.reduce((s, v, c) => s + v * k[c], 0) - target[i];
    ssr += e * e;
  });
  return { k, ssr };
}

/**
 * Segment starts chosen greedily: from [0], add the batch size (among up to 64 spread over the data's)
 * that lowers the squared relative error most, until MAX_TOKEN_SEGMENTS or no gain above 1%.
 * Measured kernels step up where a tile or wave fills (e.g. 128 -> 136 tokens), so the knots go there.
 */
function chooseKnots(p: Problem): number[] {
  const sizes = [...new Set(p.data.map((d) => d.sums.prompt + d.sums.decodes))].sort((a, b) => a - b);
  const candidates = sizes.length <= 64 ? sizes : Array.from({ length: 64 }, (_, i) => sizes[Math.floor((i * sizes.length) / 64)]);
  let knots = [0];
  let best = solve(p, knots).ssr;
  while (knots.length < MAX_TOKEN_SEGMENTS) {
    let pick: { knots: number[]; ssr: number } | null = null;
    for (const c of candidates) {
      if (c === 0 || knots.includes(c)) continue;
      const trial = [...knots, c].sort((a, b) => a - b);
      let ssr: number;
      try {
        ssr = solve(p, trial).ssr;
      } catch {
        continue; // the solver gave up on a near-duplicate segment
      }
      if (!pick || ssr < pick.ssr) pick = { knots: trial, ssr };
    }
    if (!pick || pick.ssr > best * 0.99) break;
    knots = pick.knots;
    best = pick.ssr;
  }
  return knots;
}

/**
 * Segment starts at the largest steps of a measured operator curve (per-layer ms by batch tokens):
 * kernels cost about the same until a tile or wave fills, then jump (Llama-3-8B on A100: +37% from
 * 128 to 136 tokens). The largest steps up to maxTokens get a knot at both ends, so a steep segment
 * carries each; a last knot at maxTokens starts the linear growth past them.
 */
export function stepKnots(tokens: number[], ms: number[], maxTokens: number): number[] {
  const steps: { at: number; to: number; jump: number }[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) {
    if (tokens[i + 1] > maxTokens || tokens[i + 1] - tokens[i] > 16) continue;
    const jump = ms[i + 1] - ms[i];
    if (jump > 0.05 * ms[i]) steps.push({ at: tokens[i], to: tokens[i + 1], jump });
  }
  steps.sort((a, b) => b.jump - a.jump);
  // The last segment starts at maxTokens: past the steps, kernels grow linearly with the batch.
  const knots = new Set([0, maxTokens]);
  for (const s of steps) {
    if (knots.size + 2 > MAX_TOKEN_SEGMENTS) break;
    knots.add(s.at).add(s.to);
  }
  return [...knots].sort((a, b) => a - b);
}

export function fitModel(data: MeasuredIteration[], opts: FitOptions): FitResult {
  if (data.length === 0) throw new ConfigError('calibrate: no measured iterations to fit');
  const pinned: IterationModel = { ...zeroModel(), ...opts.pinned };
  const problem: Problem = { data, terms: opts.terms.filter((t) => opts.pinned?.[t] === undefined), pinned };
  const knots = opts.knots ?? chooseKnots(problem);
  if (knots.length === 0 || knots.length > MAX_TOKEN_SEGMENTS || knots.some((k, j) => !Number.isInteger(k) || k < 0 || (j > 0 && k <= knots[j - 1]))) {
    throw new ConfigError(`calibrate: --knots must be 1 to ${MAX_TOKEN_SEGMENTS} increasing integers >= 0, got ${knots.join(',')}`);
  }
  const { k } = solve(problem, knots);
  const model: IterationModel = { ...pinned, perBatchTokenPs: [] };
  const u32 = (v: number) => Math.min(0xffffffff, Math.round(v));
  problem.terms.forEach((t, c) => (model[t] = u32(k[c])));
  knots.forEach((start, j) => model.perBatchTokenPs.push([start, u32(k[problem.terms.length + j])]));
  // Trailing segments of slope 0 carry nothing.
  while (model.perBatchTokenPs.length > 0 && model.perBatchTokenPs[model.perBatchTokenPs.length - 1][1] === 0) model.perBatchTokenPs.pop();
  return { model, errors: fitErrors(model, data) };
}

export function zeroModel(): IterationModel {
  return {
    base: 0,
    perPrefillToken: 0,
    perDecodeSeq: 0,
    perContextToken: 0,
    perPrefillSeq: 0,
    perDecodeContextTokenPs: 0,
    perPrefillContextTokenPs: 0,
    perAttendedPairPs: 0,
    perBatchTokenPs: [],
  };
}

/** Relative error of the integer model (whole microseconds, as the simulator times it) per regime. */
export function fitErrors(model: IterationModel, data: MeasuredIteration[]): Partial<Record<Regime, RegimeError>> {
  const errors: Partial<Record<Regime, RegimeError>> = {};
  for (const regime of REGIMES) {
    const rel = data.filter((d) => d.regime === regime).map((d) => iterationUs(model, d.sums) / (d.ms * 1000) - 1);
    if (rel.length === 0) continue;
    const abs = rel.map(Math.abs).sort((a, b) => a - b);
    const at = (q: number) => abs[Math.min(abs.length - 1, Math.ceil(q * abs.length) - 1)];
    errors[regime] = { batches: rel.length, median: at(0.5), p90: at(0.9), max: abs[abs.length - 1], bias: rel.reduce((s, x) => s + x, 0) / rel.length };
  }
  return errors;
}
