// Expands a sweep spec into its configurations: grid product x sample set, rules applied, each
// resolved and validated into a LaneSpec. Deterministic: the same spec always gives the same list.
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, resolveProfile, type ProfileOverrides, type ServingProfile } from '../model/profile.js';
import { engineScheduler } from '../policy/engine/index.js';
import { predictor as predictorByName } from '../policy/predictor/index.js';
import { router as routerByName } from '../policy/router/index.js';
import { draw } from '../rng.js';
import { resolveLane, type LaneSpec } from '../sim/lane.js';
import { isSyntheticSpec } from '../trace/synthetic.js';
import { DEFAULTS, type Axis, type LoadedSpec, type ParamDef, type Range, type Value } from './spec.js';

export const MAX_CONFIGS = 1_000_000;

export interface TraceRef {
  /** The spec's name for the trace. */
  name: string;
  /** Path as written in the spec (part of the configuration id). */
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
  /** Hash of everything that determines the result. */
  id: string;
  trace: TraceRef;
  lane: LaneSpec;
  /** One value per result parameter column. */
  columns: Record<string, Value>;
}

export interface Expansion {
  configs: SweepConfig[];
  /** Configurations generated, including skipped invalid ones. */
  generated: number;
  /** Invalid configurations left out (spec `invalid: skip`), with the first few reasons. */
  skipped: number;
  skippedReasons: string[];
  params: ParamDef[];
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
      if (out.length > MAX_CONFIGS) throw new ConfigError(`sweep spec: grid.${p.key}: more than ${MAX_CONFIGS} values`);
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

/** The sample set: `count` assignments of the sample axes (random or Latin hypercube). */
export function sampleAssignments(sample: NonNullable<LoadedSpec['spec']['sample']>, byKey: Map<string, ParamDef>): Record<string, Value>[] {
  const keys = Object.keys(sample.axes);
  const n = sample.count;
  const out: Record<string, Value>[] = Array.from({ length: n }, () => ({}));
  keys.forEach((key, j) => {
    const axis = sample.axes[key];
    const p = byKey.get(key)!;
    let strata: Uint32Array | undefined;
    if (sample.method === 'lhs') {
      strata = new Uint32Array(n);
      for (let i = 0; i < n; i++) strata[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const k = Math.floor((draw(sample.seed, 1000 + j, i) / U32) * (i + 1));
        const t = strata[i];
        strata[i] = strata[k];
        strata[k] = t;
      }
    }
    for (let i = 0; i < n; i++) {
      const jitter = draw(sample.seed, 1 + j, i) / U32;
      const u = strata ? (strata[i] + jitter) / n : jitter;
      out[i][key] = sampleValue(axis, p, u);
    }
  });
  return out;
}

function gridAssignments(grid: Record<string, Axis>, byKey: Map<string, ParamDef>): Record<string, Value>[] {
  let points: Record<string, Value>[] = [{}];
  for (const [key, axis] of Object.entries(grid)) {
    const values = gridValues(axis, byKey.get(key)!);
    if (points.length * values.length > MAX_CONFIGS) throw new ConfigError(`sweep spec: grid: more than ${MAX_CONFIGS} configurations`);
    points = points.flatMap((pt) => values.map((v) => ({ ...pt, [key]: v })));
  }
  return points;
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

function describe(values: Record<string, Value>, varied: string[]): string {
  return varied.map((k) => `${k}=${values[k]}`).join(', ');
}

/** All configurations of a spec, in config-index order. */
export function expandSpec(loaded: LoadedSpec): Expansion {
  const { spec, params, baseDir } = loaded;
  const byKey = new Map(params.map((p) => [p.key, p]));
  const grid = gridAssignments(spec.grid, byKey);
  const samples = spec.sample ? sampleAssignments(spec.sample, byKey) : [{}];
  if (grid.length * samples.length > MAX_CONFIGS) throw new ConfigError(`sweep spec: ${grid.length * samples.length} configurations; at most ${MAX_CONFIGS}`);
  const traceNames = Object.keys(spec.traces);
  const base: Record<string, Value> = { trace: traceNames[0], ...DEFAULTS, ...spec.fixed };
  const varied = [...Object.keys(spec.grid), ...Object.keys(spec.sample?.axes ?? {})];
  const profileCache = new Map<string, ServingProfile>();
  const configs: SweepConfig[] = [];
  const skippedReasons: string[] = [];
  let skipped = 0;
  let index = 0;
  for (const g of grid) {
    for (const s of samples) {
      const values: Record<string, Value> = { ...base, ...g, ...s };
      for (const rule of spec.rules) {
        const match = Object.entries(rule.when).every(([k, want]) => (Array.isArray(want) ? want.includes(values[k] ?? null) : want === (values[k] ?? null)));
        if (match) Object.assign(values, rule.set);
      }
      try {
        configs.push(buildConfig(index, values, loaded, params, profileCache));
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        const reason = `configuration #${index}${varied.length ? ` (${describe(values, varied)})` : ''}: ${e.message}`;
        if (spec.invalid === 'error') throw new ConfigError(`${reason}\n(set "invalid: skip" in the spec to leave invalid configurations out)`);
        skipped++;
        if (skippedReasons.length < 5) skippedReasons.push(reason);
      }
      index++;
    }
  }
  void baseDir;
  return { configs, generated: index, skipped, skippedReasons, params };
}

function num(v: Value | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function buildConfig(index: number, values: Record<string, Value>, loaded: LoadedSpec, params: ParamDef[], profileCache: Map<string, ServingProfile>): SweepConfig {
  const { spec, baseDir } = loaded;
  const traceName = String(values.trace);
  const t = spec.traces[traceName];
  const trace: TraceRef = {
    name: traceName,
    path: t.path,
    resolvedPath: isAbsolute(t.path) || isSyntheticSpec(t.path) ? t.path : resolve(baseDir, t.path),
    format: t.format,
    skipBadRows: t.skipBadRows,
    startS: values['window.start'] as number,
    durationS: (values['window.duration'] as number | null) ?? null,
    rateScale: values.rateScale as number,
  };
  const overrides: ProfileOverrides = {
    kvBlocks: num(values['profile.kvBlocks']),
    blockSize: num(values['profile.blockSize']),
    maxNumSeqs: num(values['profile.maxNumSeqs']),
    maxBatchedTokens: num(values['profile.maxBatchedTokens']),
    maxModelLen: num(values['profile.maxModelLen']),
    iterationNs: {
      base: num(values['profile.iterationNs.base']),
      perPrefillToken: num(values['profile.iterationNs.perPrefillToken']),
      perDecodeSeq: num(values['profile.iterationNs.perDecodeSeq']),
      perContextToken: num(values['profile.iterationNs.perContextToken']),
    },
  };
  let profileName = String(values.profile);
  if (profileName.endsWith('.json') && !isAbsolute(profileName)) profileName = resolve(baseDir, profileName);
  const profileKey = `${profileName}\u0000${JSON.stringify(overrides)}`;
  let profile = profileCache.get(profileKey);
  if (!profile) {
    profile = { ...resolveProfile(profileName, overrides), name: String(values.profile) };
    profileCache.set(profileKey, profile);
  }
  const policyParams = (prefix: 'router' | 'scheduler' | 'predictor', accepts: Set<string>) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) {
      if (k.startsWith(`${prefix}.`) && accepts.has(k.slice(prefix.length + 1))) out[k.slice(prefix.length + 1)] = v;
    }
    return out;
  };
  const shapeKeys = (schema: unknown) => new Set(Object.keys((schema as { shape?: object }).shape ?? {}));
  const r = routerByName(String(values.router));
  const s = engineScheduler(String(values.scheduler));
  const pr = predictorByName(String(values.predictor));
  const lane: LaneSpec = {
    replicas: values.replicas as number,
    router: { name: r.name, params: policyParams('router', shapeKeys(r.params)) },
    scheduler: { name: s.name, params: policyParams('scheduler', shapeKeys(s.params)) },
    predictor: { name: pr.name, params: policyParams('predictor', shapeKeys(pr.params)) },
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
  const columns: Record<string, Value> = {};
  for (const p of params) {
    switch (p.key) {
      case 'trace': columns[p.column] = traceName; break;
      case 'window.start': columns[p.column] = trace.startS; break;
      case 'window.duration': columns[p.column] = trace.durationS; break;
      case 'rateScale': columns[p.column] = trace.rateScale; break;
      case 'replicas': columns[p.column] = lane.replicas; break;
      case 'router': columns[p.column] = r.name; break;
      case 'scheduler': columns[p.column] = s.name; break;
      case 'predictor': columns[p.column] = pr.name; break;
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
  const predicts = s.usesPrediction === true || r.usesPrediction === true;
  const id = hashOf({
    trace: { path: trace.path, format: trace.format, skipBadRows: trace.skipBadRows, startS: trace.startS, durationS: trace.durationS, rateScale: trace.rateScale },
    lane: { ...lane, predictor: predicts ? lane.predictor : undefined, profile: { ...profile, source: undefined, model: undefined, gpu: undefined } },
  });
  return { index, id, trace, lane, columns };
}
