// Expands a sweep spec into its configurations: grid product x sample set, rules applied, each
// resolved and validated into a LaneSpec. Lazy: configuration i is built when asked for, from its
// grid point and sample number, so a spec of 10^6 configurations costs memory for one at a time.
// Deterministic: the same spec always gives the same list.
import { isAbsolute, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { checkIterationBound, ConfigError, resolveProfile, type ServingProfile } from '../model/profile.js';
import { engineScheduler } from '../policy/engine/index.js';
import { predictor as predictorByName } from '../policy/predictor/index.js';
import { router as routerByName } from '../policy/router/index.js';
import { draw } from '../rng.js';
import { resolveLane, type LaneSpec } from '../sim/lane.js';
import { fileDigest } from '../trace/source.js';
import { isSyntheticSpec } from '../trace/synthetic.js';
import { DEFAULTS, type Axis, type LoadedSpec, type ParamDef, type Range, type Value } from './spec.js';

export const MAX_CONFIGS = 1_000_000;

export interface TraceRef {
  /** The spec's name for the trace. */
  name: string;
  /** Path as written in the spec (the trace_path column). */
  path: string;
  /** Path resolved against the spec's directory (a synthetic spec as written). */
  resolvedPath: string;
  format: string;
  skipBadRows: boolean;
  startS: number;
  durationS: number | null;
  rateScale: number;
}

export interface SweepConfig {
  /** Position in the full expansion (stable across shards). */
  index: number;
  /** Hash of everything that determines the result, the trace's content included (not its path). */
  id: string;
  trace: TraceRef;
  lane: LaneSpec;
  /** One value per result parameter column. */
  columns: Record<string, Value>;
}

function roundish(v: number): number {
  return Number(v.toPrecision(12));
}

/** Grid values of one axis, in order. */
export function gridValues(axis: Axis, p: ParamDef): Value[] {
  if (Array.isArray(axis)) return axis;
  const int = axis.int || p.kind === 'int';
  const out: number[] = [];
  if (axis.step !== undefined) {
    for (let k = 0; ; k++) {
      const v = roundish(axis.min + k * axis.step);
      if (v > axis.max + Math.abs(axis.step) * 1e-9) break;
      out.push(v);
      if (out.length > MAX_CONFIGS) throw new ConfigError(`grid.${p.key}: more than ${MAX_CONFIGS} values`);
    }
  } else {
    const n = axis.count ?? 1;
    for (let k = 0; k < n; k++) {
      const t = n === 1 ? 0 : k / (n - 1);
      out.push(roundish(axis.log ? axis.min * Math.pow(axis.max / axis.min, t) : axis.min + (axis.max - axis.min) * t));
    }
  }
  if (!int) return out;
  return [...new Set(out.map((v) => Math.round(v)))];
}

/** Maps u in [0, 1) onto an axis. */
export function sampleValue(axis: Axis, p: ParamDef, u: number): Value {
  if (Array.isArray(axis)) return axis[Math.min(axis.length - 1, Math.floor(u * axis.length))];
  const r: Range = axis;
  if (r.int || p.kind === 'int') {
    const lo = Math.ceil(r.min);
    const hi = Math.floor(r.max);
    if (r.log) {
      const v = Math.floor(Math.exp(Math.log(lo) + u * (Math.log(hi + 1) - Math.log(lo))));
      return Math.min(hi, Math.max(lo, v));
    }
    return Math.min(hi, lo + Math.floor(u * (hi - lo + 1)));
  }
  return roundish(r.log ? r.min * Math.pow(r.max / r.min, u) : r.min + u * (r.max - r.min));
}

const U32 = 4294967296;

/** One sample axis: its values come from draw(seed, 1 + j, i), through a shuffled stratum for LHS. */
class SampleAxis {
  private readonly strata?: Uint32Array;

  constructor(
    readonly key: string,
    private readonly axis: Axis,
    private readonly param: ParamDef,
    private readonly j: number,
    private readonly sample: NonNullable<LoadedSpec['spec']['sample']>,
  ) {
    if (sample.method !== 'lhs') return;
    const n = sample.count;
    const strata = new Uint32Array(n);
    for (let i = 0; i < n; i++) strata[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const k = Math.floor((draw(sample.seed, 1000 + j, i) / U32) * (i + 1));
      const t = strata[i];
      strata[i] = strata[k];
      strata[k] = t;
    }
    this.strata = strata;
  }

  value(i: number): Value {
    const jitter = draw(this.sample.seed, 1 + this.j, i) / U32;
    const u = this.strata ? (this.strata[i] + jitter) / this.sample.count : jitter;
    return sampleValue(this.axis, this.param, u);
  }
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v as object)
    .sort()
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

export function hashOf(v: unknown, length = 16): string {
  return createHash('sha256').update(canonical(v)).digest('hex').slice(0, length);
}

function num(v: Value | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

const PROFILE_OVERRIDES = [
  'profile.kvBlocks',
  'profile.blockSize',
  'profile.maxNumSeqs',
  'profile.maxBatchedTokens',
  'profile.maxModelLen',
  'profile.iterationNs.base',
  'profile.iterationNs.perPrefillToken',
  'profile.iterationNs.perDecodeSeq',
  'profile.iterationNs.perContextToken',
];

const policyParamNames = new Map<string, string[]>();

/** The parameter names a policy's schema declares (cached per policy). */
function paramNames(prefix: string, policy: { name: string; params: unknown }): string[] {
  const key = `${prefix}.${policy.name}`;
  let names = policyParamNames.get(key);
  if (!names) {
    names = Object.keys((policy.params as { shape?: object }).shape ?? {});
    policyParamNames.set(key, names);
  }
  return names;
}

/** Caches that would otherwise grow with the sweep are dropped whole at this size. */
const CACHE_LIMIT = 4096;

export interface Validation {
  /** Valid configurations. */
  valid: number;
  /** Left out under `invalid: skip`, with the first few reasons. */
  skipped: number;
  skippedReasons: string[];
  /** 1 for each configuration left out (null when none is). */
  leftOut: Uint8Array | null;
}

/** A spec's configurations, built one at a time by config index. */
export class SpecExpansion {
  /** Configurations in the full expansion, invalid ones included. */
  readonly generated: number;
  readonly params: ParamDef[];
  private readonly grid: { key: string; values: Value[] }[];
  private readonly samples: SampleAxis[];
  private readonly sampleCount: number;
  private readonly varied: string[];
  private readonly base: Record<string, Value>;
  private readonly rules: { when: [string, Value | Value[]][]; set: Record<string, Value> }[];
  private readonly profiles = new Map<string, ServingProfile>();
  private readonly bases = new Map<string, ServingProfile>();
  private readonly digests = new Map<string, string>();

  constructor(readonly loaded: LoadedSpec) {
    const { spec, params } = loaded;
    const byKey = new Map(params.map((p) => [p.key, p]));
    this.params = params;
    const fail = (message: string): never => {
      throw new ConfigError(`${loaded.label}: ${message}`);
    };
    let gridPoints = 1;
    this.grid = Object.entries(spec.grid).map(([key, axis]) => {
      let values: Value[];
      try {
        values = gridValues(axis, byKey.get(key)!);
      } catch (e) {
        return fail((e as Error).message);
      }
      gridPoints *= values.length;
      if (gridPoints > MAX_CONFIGS) fail(`grid: more than ${MAX_CONFIGS} configurations`);
      return { key, values };
    });
    this.sampleCount = spec.sample?.count ?? 1;
    this.generated = gridPoints * this.sampleCount;
    if (this.generated > MAX_CONFIGS) fail(`${this.generated} configurations (${gridPoints} grid points x ${this.sampleCount} samples); at most ${MAX_CONFIGS}`);
    const sample = spec.sample;
    this.samples = sample ? Object.entries(sample.axes).map(([key, axis], j) => new SampleAxis(key, axis, byKey.get(key)!, j, sample)) : [];
    this.base = { trace: Object.keys(spec.traces)[0], ...DEFAULTS, ...spec.fixed };
    this.varied = [...Object.keys(spec.grid), ...Object.keys(spec.sample?.axes ?? {})];
    this.rules = spec.rules.map((r) => ({ when: Object.entries(r.when), set: r.set }));
  }

  /** Every parameter's value in configuration `index`, rules applied. */
  values(index: number): Record<string, Value> {
    const values: Record<string, Value> = { ...this.base };
    let g = Math.floor(index / this.sampleCount);
    for (let a = this.grid.length - 1; a >= 0; a--) {
      const { key, values: axis } = this.grid[a];
      values[key] = axis[g % axis.length];
      g = Math.floor(g / axis.length);
    }
    const s = index % this.sampleCount;
    for (const axis of this.samples) values[axis.key] = axis.value(s);
    for (const rule of this.rules) {
      const match = rule.when.every(([k, want]) => (Array.isArray(want) ? want.includes(values[k] ?? null) : want === (values[k] ?? null)));
      if (match) Object.assign(values, rule.set);
    }
    return values;
  }

  /** "configuration #7 (scheduler=vllm-fcfs, rateScale=2)": how messages name a configuration. */
  describe(index: number, values = this.values(index)): string {
    return `configuration #${index}${this.varied.length ? ` (${this.varied.map((k) => `${k}=${values[k]}`).join(', ')})` : ''}`;
  }

  traceRef(values: Record<string, Value>): TraceRef {
    const traceName = String(values.trace);
    const t = this.loaded.spec.traces[traceName];
    return {
      name: traceName,
      path: t.path,
      resolvedPath: isAbsolute(t.path) || isSyntheticSpec(t.path) ? t.path : resolve(this.loaded.baseDir, t.path),
      format: t.format,
      skipBadRows: t.skipBadRows,
      startS: values['window.start'] as number,
      durationS: (values['window.duration'] as number | null) ?? null,
      rateScale: values.rateScale as number,
    };
  }

  /** SHA-256 of each trace file the spec names, by trace name (read once per expansion). */
  traceDigests(): Record<string, string> {
    return Object.fromEntries(Object.keys(this.loaded.spec.traces).map((name) => [name, this.digest(name)]));
  }

  private digest(name: string): string {
    let d = this.digests.get(name);
    if (d === undefined) {
      const t = this.loaded.spec.traces[name];
      // A synthetic workload is its spec: hash the text (the generator is deterministic).
      d = isSyntheticSpec(t.path)
        ? createHash('sha256').update(t.path).digest('hex')
        : fileDigest(isAbsolute(t.path) ? t.path : resolve(this.loaded.baseDir, t.path));
      this.digests.set(name, d);
    }
    return d;
  }

  private profile(values: Record<string, Value>): ServingProfile {
    let profileName = String(values.profile);
    if (profileName.endsWith('.json') && !isAbsolute(profileName)) profileName = resolve(this.loaded.baseDir, profileName);
    let key = profileName;
    for (const k of PROFILE_OVERRIDES) key += `\u0000${values[k] ?? ''}`;
    let profile = this.profiles.get(key);
    if (!profile) {
      // The preset or file is validated once; each override value was validated against the same
      // bounds by the spec schema, so only the cross-field checks remain (checkIterationBound here,
      // the scheduler's in resolveLane).
      const base = this.bases.get(profileName) ?? resolveProfile(profileName);
      this.bases.set(profileName, base);
      const override = (k: string) => num(values[`profile.${k}`]);
      profile = {
        ...base,
        kvBlocks: override('kvBlocks') ?? base.kvBlocks,
        blockSize: override('blockSize') ?? base.blockSize,
        maxNumSeqs: override('maxNumSeqs') ?? base.maxNumSeqs,
        maxBatchedTokens: override('maxBatchedTokens') ?? base.maxBatchedTokens,
        maxModelLen: override('maxModelLen') ?? base.maxModelLen,
        iterationNs: {
          ...base.iterationNs,
          base: override('iterationNs.base') ?? base.iterationNs.base,
          perPrefillToken: override('iterationNs.perPrefillToken') ?? base.iterationNs.perPrefillToken,
          perDecodeSeq: override('iterationNs.perDecodeSeq') ?? base.iterationNs.perDecodeSeq,
          perContextToken: override('iterationNs.perContextToken') ?? base.iterationNs.perContextToken,
        },
        name: String(values.profile),
      };
      checkIterationBound(profile);
      if (this.profiles.size >= CACHE_LIMIT) this.profiles.clear();
      this.profiles.set(key, profile);
    }
    return profile;
  }

  /** The lane of a configuration, validated and with its policy parameters defaulted; a ConfigError if invalid. */
  private lane(values: Record<string, Value>) {
    const profile = this.profile(values);
    const policyParams = (prefix: 'router' | 'scheduler' | 'predictor', policy: { name: string; params: unknown }) => {
      const out: Record<string, unknown> = {};
      for (const name of paramNames(prefix, policy)) {
        const v = values[`${prefix}.${name}`];
        if (v !== undefined) out[name] = v;
      }
      return out;
    };
    const r = routerByName(String(values.router));
    const s = engineScheduler(String(values.scheduler));
    const pr = predictorByName(String(values.predictor));
    const lane: LaneSpec = {
      replicas: values.replicas as number,
      router: { name: r.name, params: policyParams('router', r) },
      scheduler: { name: s.name, params: policyParams('scheduler', s) },
      predictor: { name: pr.name, params: policyParams('predictor', pr) },
      profile,
      seed: values.seed as number,
      slo: { ttftMs: values['slo.ttftMs'] as number, tpotMs: values['slo.tpotMs'] as number },
    };
    // Absent when off, so configuration ids from before prefix caching existed stay the same.
    if (values.prefixCache === 'on') lane.prefixCache = 'on';
    const resolved = resolveLane(lane);
    // Store the defaulted parameters so the record says exactly what ran.
    lane.router.params = resolved.routerParams;
    lane.scheduler.params = resolved.schedulerParams;
    lane.predictor!.params = resolved.predictorParams;
    return { lane, resolved };
  }

  /** Configuration `index`, built and validated; a ConfigError naming it when it is invalid. */
  config(index: number): SweepConfig {
    const values = this.values(index);
    const trace = this.traceRef(values);
    let built;
    try {
      built = this.lane(values);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${this.describe(index, values)}: ${e.message}`);
      throw e;
    }
    const { lane, resolved } = built;
    const profile = lane.profile;
    const columns: Record<string, Value> = {};
    for (const p of this.params) {
      switch (p.key) {
        case 'trace': columns[p.column] = trace.name; break;
        case 'window.start': columns[p.column] = trace.startS; break;
        case 'window.duration': columns[p.column] = trace.durationS; break;
        case 'rateScale': columns[p.column] = trace.rateScale; break;
        case 'replicas': columns[p.column] = lane.replicas; break;
        case 'router': columns[p.column] = lane.router.name; break;
        case 'scheduler': columns[p.column] = lane.scheduler.name; break;
        case 'predictor': columns[p.column] = lane.predictor!.name; break;
        case 'prefixCache': columns[p.column] = resolved.prefixCache ? 'on' : 'off'; break;
        case 'profile': columns[p.column] = String(values.profile); break;
        case 'profile.kvBlocks': columns[p.column] = profile.kvBlocks; break;
        case 'profile.blockSize': columns[p.column] = profile.blockSize; break;
        case 'profile.maxNumSeqs': columns[p.column] = profile.maxNumSeqs; break;
        case 'profile.maxBatchedTokens': columns[p.column] = profile.maxBatchedTokens; break;
        case 'profile.maxModelLen': columns[p.column] = profile.maxModelLen; break;
        case 'profile.iterationNs.base': columns[p.column] = profile.iterationNs.base; break;
        case 'profile.iterationNs.perPrefillToken': columns[p.column] = profile.iterationNs.perPrefillToken; break;
        case 'profile.iterationNs.perDecodeSeq': columns[p.column] = profile.iterationNs.perDecodeSeq; break;
        case 'profile.iterationNs.perContextToken': columns[p.column] = profile.iterationNs.perContextToken; break;
        case 'seed': columns[p.column] = lane.seed; break;
        case 'slo.ttftMs': columns[p.column] = lane.slo!.ttftMs; break;
        case 'slo.tpotMs': columns[p.column] = lane.slo!.tpotMs; break;
        default: {
          const [prefix, name] = p.key.split('.', 2);
          const chosen = prefix === 'router' ? resolved.routerParams : prefix === 'predictor' ? resolved.predictorParams : resolved.schedulerParams;
          const v = (chosen as Record<string, unknown>)[name];
          columns[p.column] = v === undefined ? null : (v as Value);
        }
      }
    }
    // The predictor changes nothing for policies that read no prediction: leave it out of their id.
    const predicts = resolved.scheduler.usesPrediction === true || resolved.router.usesPrediction === true;
    const id = hashOf({
      trace: { sha256: this.digest(trace.name), format: trace.format, skipBadRows: trace.skipBadRows, startS: trace.startS, durationS: trace.durationS, rateScale: trace.rateScale },
      lane: { ...lane, predictor: predicts ? lane.predictor : undefined, profile: { ...profile, source: undefined, model: undefined, gpu: undefined } },
    });
    return { index, id, trace, lane, columns };
  }

  /**
   * Checks every configuration before any runs, cheaply: the lane checks (profile, policy
   * parameters, iteration bound) once per distinct combination of the values they read, plus
   * `checkTrace` (window and rate scale) for each configuration. Under `invalid: error` the first
   * invalid configuration is a ConfigError naming it; under `skip` it is left out and counted.
   */
  validate(checkTrace: (ref: TraceRef, prefixCache: boolean) => string | null = () => null): Validation {
    const laneKeys = this.params.map((p) => p.key).filter((k) => /^(profile|router|scheduler|predictor)(\.|$)/.test(k));
    const laneErrors = new Map<string, string | null>();
    const skip = this.loaded.spec.invalid === 'skip';
    let leftOut: Uint8Array | null = null;
    const skippedReasons: string[] = [];
    let skipped = 0;
    for (let index = 0; index < this.generated; index++) {
      const values = this.values(index);
      let key = '';
      for (const k of laneKeys) {
        const v = values[k];
        key += typeof v === 'string' ? `${JSON.stringify(v)},` : `${v},`;
      }
      let error = laneErrors.get(key);
      if (error === undefined) {
        try {
          this.lane(values);
          error = null;
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          error = e.message;
        }
        if (laneErrors.size >= CACHE_LIMIT * 16) laneErrors.clear();
        laneErrors.set(key, error);
      }
      error ??= checkTrace(this.traceRef(values), values.prefixCache === 'on');
      if (error === null) continue;
      const reason = `${this.describe(index, values)}: ${error}`;
      if (!skip) throw new ConfigError(`${this.loaded.label}: ${reason}\n(set "invalid: skip" in the spec to leave invalid configurations out)`);
      leftOut ??= new Uint8Array(this.generated);
      leftOut[index] = 1;
      skipped++;
      if (skippedReasons.length < 5) skippedReasons.push(reason);
    }
    return { valid: this.generated - skipped, skipped, skippedReasons, leftOut };
  }
}

/** Every valid configuration of a small spec at once (tests, and specs that fit in memory). */
export function expandSpec(loaded: LoadedSpec): { configs: SweepConfig[]; generated: number; skipped: number; skippedReasons: string[]; params: ParamDef[] } {
  const exp = new SpecExpansion(loaded);
  const v = exp.validate();
  const configs: SweepConfig[] = [];
  for (let i = 0; i < exp.generated; i++) if (!v.leftOut?.[i]) configs.push(exp.config(i));
  return { configs, generated: exp.generated, skipped: v.skipped, skippedReasons: v.skippedReasons, params: exp.params };
}
