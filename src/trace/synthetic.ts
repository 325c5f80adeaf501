// Seeded synthetic traces. Every random number comes from the stateless draw(seed, stream, counter)
// of src/rng.ts, so a given seed yields bit-identical arrays.
import { parseDecimal } from '../numbers.js';
import { quote } from '../printable.js';
import { draw } from '../rng.js';
import { TraceError } from './errors.js';
import { loadLengths } from './readers.js';
import { buildSessions, type SessionShape } from './sessions.js';
import { checkTraceLimits, type Trace } from './trace.js';

export type LengthModel =
  | {
      kind: 'lognormal';
      promptMedian: number;
      promptSigma: number;
      outputMedian: number;
      outputSigma: number;
      maxPrompt?: number;
      maxOutput?: number;
    }
  | { kind: 'empirical'; trace: Trace };

export interface PoissonOptions {
  ratePerS: number;
  durationS: number;
  seed: number;
  lengths: LengthModel;
}

export interface GammaOptions extends PoissonOptions {
  /** Coefficient of variation of inter-arrival times: 1 = Poisson, > 1 bursty, < 1 regular. */
  cv: number;
}

/** Chat-like defaults of the spec syntax. */
export const DEFAULT_LENGTHS: LengthModel = {
  kind: 'lognormal',
  promptMedian: 1000,
  promptSigma: 1,
  outputMedian: 200,
  outputSigma: 1,
  maxPrompt: 8192,
  maxOutput: 2048,
};

// Far from the small stream ids of src/rng.ts, so a shared seed never correlates routers with arrivals.
const ARRIVAL = 0x7472_0001;
const PROMPT = 0x7472_0002;
const OUTPUT = 0x7472_0003;
const PICK = 0x7472_0004;

const MAX_REQUESTS = 50_000_000;
const U32_MAX = 0xffffffff;

/** Uniform in (0, 1) with 53 random bits, from counters 2c and 2c+1 of a stream. */
function uniform(seed: number, stream: number, c: number): number {
  const hi = draw(seed, stream, 2 * c) >>> 5; // 27 bits
  const lo = draw(seed, stream, 2 * c + 1) >>> 6; // 26 bits
  return (hi * 67_108_864 + lo + 0.5) / 9_007_199_254_740_992;
}

/** Standard normal (Box-Muller, cosine branch) from uniforms 2c and 2c+1. */
function normal(seed: number, stream: number, c: number): number {
  const u1 = uniform(seed, stream, 2 * c);
  const u2 = uniform(seed, stream, 2 * c + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A sequential reader of one stream, for samplers that use a variable number of draws. */
class Draws {
  private c = 0;
  constructor(
    private readonly seed: number,
    private readonly stream: number,
  ) {}
  uniform(): number {
    return uniform(this.seed, this.stream, this.c++);
  }
  normal(): number {
    const u1 = this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** Gamma(shape, 1): Marsaglia and Tsang (2000); shape < 1 via the boost Gamma(shape + 1) * U^(1/shape). */
function gammaSample(shape: number, d: Draws): number {
  if (shape < 1) {
    const g = gammaSample(shape + 1, d);
    return g * Math.pow(d.uniform(), 1 / shape);
  }
  const a = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * a);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = d.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = d.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return a * v;
    if (Math.log(u) < 0.5 * x * x + a * (1 - v + Math.log(v))) return a * v;
  }
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new TraceError(message);
}

function checkCommon(o: PoissonOptions): void {
  check(Number.isFinite(o.ratePerS) && o.ratePerS > 0, `rate must be a positive number of requests/s, got ${o.ratePerS}`);
  check(Number.isFinite(o.durationS) && o.durationS > 0, `duration must be a positive number of seconds, got ${o.durationS}`);
  check(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= U32_MAX, `seed must be an integer in [0, 2^32), got ${o.seed}`);
  check(o.ratePerS * o.durationS <= MAX_REQUESTS, `rate x duration = ${o.ratePerS * o.durationS} requests is more than ${MAX_REQUESTS}`);
  const l = o.lengths;
  if (l.kind === 'lognormal') {
    for (const [k, v] of [['promptMedian', l.promptMedian], ['outputMedian', l.outputMedian]] as const) {
      check(Number.isFinite(v) && v > 0, `${k} must be a positive number, got ${v}`);
    }
    for (const [k, v] of [['promptSigma', l.promptSigma], ['outputSigma', l.outputSigma]] as const) {
      check(Number.isFinite(v) && v >= 0, `${k} must be a number >= 0, got ${v}`);
    }
    for (const [k, v] of [['maxPrompt', l.maxPrompt], ['maxOutput', l.maxOutput]] as const) {
      check(v === undefined || (Number.isInteger(v) && v >= 1 && v <= U32_MAX), `${k} must be an integer >= 1, got ${v}`);
    }
  } else {
    check(l.trace.promptTokens.length > 0, `empirical lengths: trace ${l.trace.name} has no requests`);
  }
}

/** (prompt, output) of request i under a length model: a pure function of (seed, i). */
function lengthSampler(seed: number, l: LengthModel): (i: number) => [number, number] {
  if (l.kind === 'lognormal') {
    const lognormal = (median: number, sigma: number, max: number, z: number) =>
      Math.min(max, Math.max(1, Math.round(median * Math.exp(sigma * z))));
    const maxP = l.maxPrompt ?? U32_MAX;
    const maxO = l.maxOutput ?? U32_MAX;
    return (i) => [lognormal(l.promptMedian, l.promptSigma, maxP, normal(seed, PROMPT, i)), lognormal(l.outputMedian, l.outputSigma, maxO, normal(seed, OUTPUT, i))];
  }
  const src = l.trace;
  const m = src.promptTokens.length;
  return (i) => {
    const j = Math.min(m - 1, Math.floor(uniform(seed, PICK, i) * m));
    return [Math.max(1, src.promptTokens[j]), Math.max(1, src.outputTokens[j])];
  };
}

function fillLengths(n: number, seed: number, l: LengthModel): { promptTokens: Uint32Array; outputTokens: Uint32Array } {
  const promptTokens = new Uint32Array(n);
  const outputTokens = new Uint32Array(n);
  const at = lengthSampler(seed, l);
  for (let i = 0; i < n; i++) [promptTokens[i], outputTokens[i]] = at(i);
  return { promptTokens, outputTokens };
}

function build(name: string, source: string, arrivals: number[], seed: number, lengths: LengthModel): Trace {
  return {
    name,
    source,
    arrivalUs: Float64Array.from(arrivals),
    ...fillLengths(arrivals.length, seed, lengths),
    skippedRows: 0,
  };
}

function lengthsSpec(l: LengthModel): string {
  if (l.kind === 'empirical') return `lengths=${l.trace.source}`;
  const parts = [`prompt_median=${l.promptMedian}`, `prompt_sigma=${l.promptSigma}`, `output_median=${l.outputMedian}`, `output_sigma=${l.outputSigma}`];
  if (l.maxPrompt !== undefined) parts.push(`max_prompt=${l.maxPrompt}`);
  if (l.maxOutput !== undefined) parts.push(`max_output=${l.maxOutput}`);
  return parts.join(',');
}

/** Poisson arrivals at `ratePerS` over [0, durationS): the first request at 0, then exponential gaps. */
export function poissonTrace(o: PoissonOptions): Trace {
  checkCommon(o);
  const endUs = o.durationS * 1e6;
  const meanGapUs = 1e6 / o.ratePerS;
  const arrivals: number[] = [];
  let t = 0;
  for (let i = 0; t < endUs; i++) {
    arrivals.push(Math.round(t));
    t += -Math.log(uniform(o.seed, ARRIVAL, i)) * meanGapUs;
  }
  if (arrivals.length > 0 && arrivals[arrivals.length - 1] >= endUs) arrivals.pop(); // rounding at the edge
  const source = `poisson:rate=${o.ratePerS},duration=${o.durationS},seed=${o.seed},${lengthsSpec(o.lengths)}`;
  return build(`poisson ${o.ratePerS}/s ${o.durationS}s seed ${o.seed}`, source, arrivals, o.seed, o.lengths);
}

/** Gamma-renewal arrivals: gaps ~ Gamma(shape 1/cv^2, mean 1/ratePerS); bursty when cv > 1. */
export function gammaTrace(o: GammaOptions): Trace {
  checkCommon(o);
  check(Number.isFinite(o.cv) && o.cv > 0 && o.cv <= 100, `cv must be a number in (0, 100], got ${o.cv}`);
  const shape = 1 / (o.cv * o.cv);
  const scaleUs = 1e6 / o.ratePerS / shape;
  const endUs = o.durationS * 1e6;
  const d = new Draws(o.seed, ARRIVAL);
  const arrivals: number[] = [];
  let t = 0;
  while (t < endUs) {
    arrivals.push(Math.round(t));
    t += gammaSample(shape, d) * scaleUs;
  }
  if (arrivals.length > 0 && arrivals[arrivals.length - 1] >= endUs) arrivals.pop();
  const source = `gamma:rate=${o.ratePerS},cv=${o.cv},duration=${o.durationS},seed=${o.seed},${lengthsSpec(o.lengths)}`;
  return build(`gamma ${o.ratePerS}/s cv ${o.cv} ${o.durationS}s seed ${o.seed}`, source, arrivals, o.seed, o.lengths);
}

export interface SessionsOptions extends SessionShape {
  seed: number;
  /** Lengths of each turn's new message (prompt) and answer (output). */
  lengths: LengthModel;
}

/** Message and answer lengths of the sessions workload unless given: short chat turns. */
export const SESSION_LENGTHS: LengthModel = {
  kind: 'lognormal',
  promptMedian: 300,
  promptSigma: 1,
  outputMedian: 200,
  outputSigma: 1,
  maxPrompt: 4096,
  maxOutput: 2048,
};

/** Multi-turn sessions sharing system prompts, with prefix hashes (src/trace/sessions.ts). */
export function sessionsTrace(o: SessionsOptions): Trace {
  checkCommon(o);
  check(Number.isFinite(o.turns) && o.turns >= 1 && o.turns <= 1000, `turns must be a number in [1, 1000], got ${o.turns}`);
  check(Number.isFinite(o.thinkS) && o.thinkS >= 0, `think must be a number of seconds >= 0, got ${o.thinkS}`);
  for (const [k, v, min] of [['system_prompts', o.systemPrompts, 1], ['system_tokens', o.systemTokens, 0], ['max_context', o.maxContext, 1], ['hash_block', o.hashBlock, 1]] as const) {
    check(Number.isInteger(v) && v >= min && v <= U32_MAX, `${k} must be an integer >= ${min}, got ${v}`);
  }
  const at = lengthSampler(o.seed, o.lengths);
  const trace = buildSessions(o, { uniform: (stream, c) => uniform(o.seed, stream, c), u32: (stream, c) => draw(o.seed, stream, c), lengths: at });
  const shape = `turns=${o.turns},think=${o.thinkS},system_prompts=${o.systemPrompts},system_tokens=${o.systemTokens},max_context=${o.maxContext},hash_block=${o.hashBlock}`;
  return {
    ...trace,
    name: `sessions ${o.ratePerS}/s ${o.durationS}s seed ${o.seed}`,
    source: `sessions:rate=${o.ratePerS},duration=${o.durationS},seed=${o.seed},${shape},${lengthsSpec(o.lengths)}`,
  };
}

const COMMON_KEYS = ['rate', 'duration', 'seed', 'lengths', 'prompt_median', 'prompt_sigma', 'output_median', 'output_sigma', 'max_prompt', 'max_output'];
const SESSION_KEYS = ['turns', 'think', 'system_prompts', 'system_tokens', 'max_context', 'hash_block'];
const SPEC_KEYS: Record<string, string[]> = {
  poisson: COMMON_KEYS,
  gamma: ['rate', 'cv', ...COMMON_KEYS.slice(1)],
  sessions: [...COMMON_KEYS.slice(0, 3), ...SESSION_KEYS, ...COMMON_KEYS.slice(3)],
};

/** Defaults of the sessions keys. */
const SESSION_DEFAULTS = { turns: 4, think: 60, system_prompts: 8, system_tokens: 1024, max_context: 8192, hash_block: 16 };

export const SYNTHETIC_KINDS = Object.keys(SPEC_KEYS);

/** True for strings that parseSyntheticSpec handles (`poisson:...`, `gamma:...`, `sessions:...`). */
export function isSyntheticSpec(s: string): boolean {
  return /^(poisson|gamma|sessions):/.test(s);
}

/**
 * `poisson:rate=5,duration=600,seed=1`, `gamma:rate=5,cv=3,duration=600,seed=1` or
 * `sessions:rate=0.5,duration=600,seed=1` (with the sessions keys of SESSION_DEFAULTS), plus optional
 * lognormal keys (prompt_median, prompt_sigma, output_median, output_sigma, max_prompt, max_output)
 * or `lengths=<file>` to sample (prompt, output) pairs from a trace or lengths file.
 */
export function parseSyntheticSpec(spec: string): Trace {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const valid = SPEC_KEYS[kind];
  if (!valid) throw new TraceError(`synthetic spec ${quote(spec)}: unknown kind ${quote(kind)}; valid: ${SYNTHETIC_KINDS.join(', ')} (e.g. poisson:rate=5,duration=600,seed=1)`);
  const values = new Map<string, string>();
  for (const part of (colon < 0 ? '' : spec.slice(colon + 1)).split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!valid.includes(key)) throw new TraceError(`synthetic spec ${quote(spec)}: unknown key ${quote(key)}; valid keys for ${kind}: ${valid.join(', ')}`);
    if (eq < 0) throw new TraceError(`synthetic spec ${quote(spec)}: key "${key}" needs a value (${key}=...)`);
    if (values.has(key)) throw new TraceError(`synthetic spec ${quote(spec)}: key "${key}" given twice`);
    values.set(key, part.slice(eq + 1).trim());
  }
  const num = (key: string, fallback?: number): number => {
    const raw = values.get(key);
    if (raw === undefined) {
      if (fallback === undefined) throw new TraceError(`synthetic spec ${quote(spec)}: missing ${key}=...; valid keys for ${kind}: ${valid.join(', ')}`);
      return fallback;
    }
    const n = parseDecimal(raw);
    if (n === undefined) throw new TraceError(`synthetic spec ${quote(spec)}: ${key}=${quote(raw)} is not a number`);
    return n;
  };
  let lengths: LengthModel;
  const lognormalKeys = ['prompt_median', 'prompt_sigma', 'output_median', 'output_sigma', 'max_prompt', 'max_output'].filter((k) => values.has(k));
  if (values.has('lengths')) {
    if (lognormalKeys.length > 0) throw new TraceError(`synthetic spec ${quote(spec)}: lengths=<file> cannot be combined with ${lognormalKeys.join(', ')}`);
    lengths = { kind: 'empirical', trace: loadLengths(values.get('lengths')!) };
  } else {
    const d = (kind === 'sessions' ? SESSION_LENGTHS : DEFAULT_LENGTHS) as Extract<LengthModel, { kind: 'lognormal' }>;
    lengths = {
      kind: 'lognormal',
      promptMedian: num('prompt_median', d.promptMedian),
      promptSigma: num('prompt_sigma', d.promptSigma),
      outputMedian: num('output_median', d.outputMedian),
      outputSigma: num('output_sigma', d.outputSigma),
      maxPrompt: num('max_prompt', d.maxPrompt),
      maxOutput: num('max_output', d.maxOutput),
    };
  }
  const base = { ratePerS: num('rate'), durationS: num('duration'), seed: num('seed', 0), lengths };
  const sessions = () => {
    const d = SESSION_DEFAULTS;
    return sessionsTrace({
      ...base,
      turns: num('turns', d.turns),
      thinkS: num('think', d.think),
      systemPrompts: num('system_prompts', d.system_prompts),
      systemTokens: num('system_tokens', d.system_tokens),
      maxContext: num('max_context', d.max_context),
      hashBlock: num('hash_block', d.hash_block),
    });
  };
  const trace = kind === 'gamma' ? gammaTrace({ ...base, cv: num('cv') }) : kind === 'sessions' ? sessions() : poissonTrace(base);
  return checkTraceLimits({ ...trace, source: spec }, `synthetic spec ${quote(spec)}`);
}
