// Sweep specs: a YAML or JSON file naming the traces, the fixed settings and the axes to vary.
// Every setting is addressed by one flat, dotted parameter key (see PARAMS and docs/sweeps.md).
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { ConfigError, DEFAULT_PROFILE, PROFILE_NAMES } from '../model/profile.js';
import { decimalParts } from '../numbers.js';
import { printableMessage, quote } from '../printable.js';
import { ENGINE_SCHEDULERS, SCHEDULER_NAMES } from '../policy/engine/index.js';
import { DEFAULT_PREDICTOR, PREDICTORS, PREDICTOR_NAMES } from '../policy/predictor/index.js';
import { ROUTERS, ROUTER_NAMES } from '../policy/router/index.js';
import { MAX_REPLICAS } from '../sim/lane.js';
import { TRACE_FORMATS } from '../trace/readers.js';

export type Value = string | number | boolean | null;

export interface ParamDef {
  key: string;
  /** Result column name. */
  column: string;
  kind: 'int' | 'float' | 'string' | 'bool';
  numeric: boolean;
  schema: z.ZodType<Value>;
  doc: string;
}

const u32 = z.number().int().min(0).max(0xffffffff);
const positiveInt = z.number().int().min(1).max(0xffffffff);

function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toLowerCase();
}

function def(key: string, kind: ParamDef['kind'], schema: z.ZodType<Value>, doc: string, column = snake(key)): ParamDef {
  return { key, column, kind, numeric: kind === 'int' || kind === 'float', schema, doc };
}

function policyParamDefs(prefix: 'router' | 'scheduler' | 'predictor', policies: readonly { name: string; params: z.ZodType<unknown> }[]): ParamDef[] {
  const seen = new Map<string, ParamDef>();
  for (const p of policies) {
    const shape = (p.params as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
    for (const [name, schema] of Object.entries(shape)) {
      if (seen.has(name)) continue;
      const probe = (schema as z.ZodType).safeParse(undefined);
      const sample = probe.success ? probe.data : undefined;
      const kind: ParamDef['kind'] =
        typeof sample === 'string' ? 'string' : typeof sample === 'boolean' ? 'bool' : Number.isInteger(sample) ? 'int' : 'float';
      seen.set(name, def(`${prefix}.${name}`, kind, schema as z.ZodType<Value>, `${prefix} parameter ${name} (applies to ${prefix}s that take it)`, `${prefix}_${snake(name)}`));
    }
  }
  return [...seen.values()];
}

/** The parameter keys a spec may fix or vary, in result-column order. `trace` choices are the spec's own trace names. */
export function paramDefs(traceNames: string[] = []): ParamDef[] {
  return [
    def('trace', 'string', traceNames.length ? z.enum(traceNames as [string, ...string[]]) : z.string(), 'which of the spec\'s traces'),
    def('window.start', 'float', z.number().min(0), 'window start, seconds of original trace time', 'window_start_s'),
    def('window.duration', 'float', z.number().positive().nullable(), 'window length in seconds (null: to the end)', 'window_duration_s'),
    def('rateScale', 'float', z.number().positive().max(1e6), 'arrival-rate multiplier (2 = twice the load)'),
    def('replicas', 'int', z.number().int().min(1).max(MAX_REPLICAS), `model replicas behind the router (1..${MAX_REPLICAS})`),
    def('router', 'string', z.enum(ROUTER_NAMES as [string, ...string[]]), 'router name'),
    ...policyParamDefs('router', ROUTERS),
    def('scheduler', 'string', z.enum(SCHEDULER_NAMES as [string, ...string[]]), 'engine scheduler name'),
    ...policyParamDefs('scheduler', ENGINE_SCHEDULERS),
    def('predictor', 'string', z.enum(PREDICTOR_NAMES as [string, ...string[]]), 'output-length predictor for the policies that read predictions'),
    ...policyParamDefs('predictor', PREDICTORS),
    def('prefixCache', 'string', z.enum(['on', 'off']), 'prefix caching on every replica: on or off (on needs a trace with prefix hashes)'),
    def(
      'profile',
      'string',
      z.string().refine((s) => PROFILE_NAMES.includes(s) || s.endsWith('.json'), { message: `expected a preset (${PROFILE_NAMES.join(', ')}) or a .json profile path` }),
      'serving profile preset or .json file',
    ),
    def('profile.kvBlocks', 'int', positiveInt, 'override: KV-cache blocks per replica', 'kv_blocks'),
    def('profile.blockSize', 'int', positiveInt.max(1 << 16), 'override: tokens per KV block', 'block_size'),
    def('profile.maxNumSeqs', 'int', positiveInt.max(1 << 16), 'override: max running requests per replica', 'max_num_seqs'),
    def('profile.maxBatchedTokens', 'int', positiveInt.max(1 << 20), 'override: token budget per iteration', 'max_batched_tokens'),
    def('profile.maxModelLen', 'int', positiveInt.max(1 << 24), 'override: longest prompt + output accepted', 'max_model_len'),
    def('profile.iterationNs.base', 'int', u32, 'override: iteration time base (ns)', 'iteration_ns_base'),
    def('profile.iterationNs.perPrefillToken', 'int', u32, 'override: ns per prefill token', 'iteration_ns_per_prefill_token'),
    def('profile.iterationNs.perDecodeSeq', 'int', u32, 'override: ns per decoding sequence', 'iteration_ns_per_decode_seq'),
    def('profile.iterationNs.perContextToken', 'int', u32, 'override: ns per attended context token', 'iteration_ns_per_context_token'),
    def('seed', 'int', u32, 'random seed (u32)'),
    def('slo.ttftMs', 'float', z.number().positive(), 'TTFT target (ms) for SLO attainment', 'slo_ttft_ms'),
    def('slo.tpotMs', 'float', z.number().positive(), 'TPOT target (ms) for SLO attainment', 'slo_tpot_ms'),
  ];
}

export const DEFAULTS: Record<string, Value> = {
  'window.start': 0,
  'window.duration': null,
  rateScale: 1,
  replicas: 1,
  router: 'round-robin',
  scheduler: 'vllm-fcfs',
  predictor: DEFAULT_PREDICTOR,
  prefixCache: 'off',
  profile: DEFAULT_PROFILE,
  seed: 0,
  'slo.ttftMs': 2000,
  'slo.tpotMs': 100,
};

/** zod strict object whose unknown-key error lists the valid keys. */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key ${iss.keys.map((k) => quote(k)).join(', ')}; valid keys: ${Object.keys(shape).join(', ')}` : undefined),
  });
}

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const rangeSchema = strictObject({
  min: z.number(),
  max: z.number(),
  /** Grid: values min, min+step, ... <= max. */
  step: z.number().positive().optional(),
  /** Grid: `count` evenly spaced values from min to max (geometric with log). */
  count: z.number().int().min(1).max(1_000_000).optional(),
  /** Geometric spacing (grid) or log-uniform sampling (random/lhs); needs min > 0. */
  log: z.boolean().optional(),
  /** Round to integers (sampling draws each integer in [min, max] equally often). */
  int: z.boolean().optional(),
});
export type Range = z.infer<typeof rangeSchema>;

const axisSchema = z.union([z.array(scalar).min(1, 'an axis needs at least one value'), rangeSchema]);
export type Axis = z.infer<typeof axisSchema>;

const traceSchema = strictObject({
  path: z.string().min(1),
  format: z.enum(['auto', ...TRACE_FORMATS]).default('auto'),
  skipBadRows: z.boolean().default(false),
});

export const specSchema = strictObject({
  version: z.literal(1).default(1),
  name: z.string().optional(),
  description: z.string().optional(),
  traces: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'trace names use letters, digits, _ . -'), traceSchema).refine((t) => Object.keys(t).length > 0, 'name at least one trace'),
  fixed: z.record(z.string(), scalar).default({}),
  grid: z.record(z.string(), axisSchema).default({}),
  sample: strictObject({
    method: z.enum(['random', 'lhs']),
    count: z.number().int().min(1).max(10_000_000),
    seed: u32.default(0),
    axes: z.record(z.string(), axisSchema),
  }).optional(),
  rules: z
    .array(
      strictObject({
        when: z.record(z.string(), z.union([scalar, z.array(scalar)])),
        set: z.record(z.string(), scalar),
      }),
    )
    .default([]),
  invalid: z.enum(['error', 'skip']).default('error'),
});

export type SweepSpec = z.infer<typeof specSchema>;

export interface LoadedSpec {
  /** How messages name the spec: "sweep spec <path>", or "sweep spec" for one given as an object. */
  label: string;
  spec: SweepSpec;
  /** Directory that relative trace and profile paths are resolved against. */
  baseDir: string;
  /** The parameter keys this spec may use. */
  params: ParamDef[];
}

function keyPath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

function fail(path: string, message: string): never {
  throw new ConfigError(printableMessage(`sweep spec: ${path ? `${path}: ` : ''}${message}`));
}

/** Validates a parsed spec object; `baseDir` resolves relative paths. */
export function validateSpec(raw: unknown, baseDir = process.cwd()): LoadedSpec {
  const parsed = specSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(keyPath(issue.path), issue.message);
  }
  const spec = parsed.data;
  const params = paramDefs(Object.keys(spec.traces));
  const byKey = new Map(params.map((p) => [p.key, p]));
  const validKeys = params.map((p) => p.key).join(', ');
  const checkKey = (where: string, key: string): ParamDef => {
    const p = byKey.get(key);
    if (!p) fail(`${where}.${key}`, `unknown parameter ${quote(key)}; valid parameters: ${validKeys}`);
    return p;
  };
  const checkValue = (where: string, p: ParamDef, v: unknown) => {
    const r = p.schema.safeParse(v);
    if (!r.success) fail(where, `${r.error.issues[0].message} (${p.doc})`);
  };
  for (const [k, v] of Object.entries(spec.fixed)) checkValue(`fixed.${k}`, checkKey('fixed', k), v);
  const varied = new Map<string, string>();
  const checkAxes = (where: string, axes: Record<string, Axis>) => {
    for (const [k, axis] of Object.entries(axes)) {
      const p = checkKey(where, k);
      if (k in spec.fixed) fail(`${where}.${k}`, `"${k}" is also in fixed; a parameter is either fixed or varied`);
      if (varied.has(k)) fail(`${where}.${k}`, `"${k}" is already varied in ${varied.get(k)}`);
      varied.set(k, where);
      if (Array.isArray(axis)) {
        axis.forEach((v, i) => checkValue(`${where}.${k}[${i}]`, p, v));
      } else {
        if (!p.numeric) fail(`${where}.${k}`, `a {min, max} range needs a numeric parameter; give a list of values for "${k}"`);
        if (!(axis.max >= axis.min)) fail(`${where}.${k}.max`, `max (${axis.max}) must be >= min (${axis.min})`);
        if (axis.log && !(axis.min > 0)) fail(`${where}.${k}.min`, 'log ranges need min > 0');
        checkValue(`${where}.${k}.min`, p, axis.int || p.kind === 'int' ? Math.ceil(axis.min) : axis.min);
        checkValue(`${where}.${k}.max`, p, axis.int || p.kind === 'int' ? Math.floor(axis.max) : axis.max);
        if (where === 'grid' && axis.step === undefined && axis.count === undefined) {
          fail(`${where}.${k}`, 'a grid range needs step or count (or give a list of values)');
        }
        if (axis.step !== undefined && axis.count !== undefined) fail(`${where}.${k}`, 'give step or count, not both');
      }
    }
  };
  checkAxes('grid', spec.grid);
  if (spec.sample) checkAxes('sample.axes', spec.sample.axes);
  spec.rules.forEach((rule, i) => {
    for (const [k, v] of Object.entries(rule.when)) {
      const p = checkKey(`rules[${i}].when`, k);
      (Array.isArray(v) ? v : [v]).forEach((x) => checkValue(`rules[${i}].when.${k}`, p, x));
    }
    for (const [k, v] of Object.entries(rule.set)) checkValue(`rules[${i}].set.${k}`, checkKey(`rules[${i}].set`, k), v);
  });
  const names = Object.keys(spec.traces);
  if (!('trace' in spec.fixed) && !varied.has('trace') && names.length > 1) {
    fail('fixed.trace', `the spec names ${names.length} traces; fix one (fixed.trace) or vary trace in grid: valid: ${names.join(', ')}`);
  }
  return { label: 'sweep spec', spec, baseDir, params };
}

/** Reads a .yaml/.yml or .json spec file. */
export function loadSpec(path: string): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`sweep spec ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
  return parseSpecText(text, path);
}

/** The spec's numbers must be finite and, in YAML, written in the decimal grammar (no 0x10, .inf, .nan). */
function checkNumbers(raw: unknown, where: string): void {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) fail(where, `${raw} is not a finite number`);
  } else if (Array.isArray(raw)) {
    raw.forEach((v, i) => checkNumbers(v, `${where}[${i}]`));
  } else if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) checkNumbers(v, where ? `${where}.${k}` : k);
  }
}

function parseYamlSpec(text: string, path: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) throw new ConfigError(printableMessage(`sweep spec ${path}: not valid YAML: ${doc.errors[0].message}`));
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'number' || !isScalar(node) || node.type !== 'PLAIN') return;
      const source = (node as { source?: string }).source ?? String(node.value);
      if (decimalParts(source) === null) {
        const line = node.range ? lineCounter.linePos(node.range[0]).line : 0;
        throw new ConfigError(printableMessage(`sweep spec ${path} line ${line}: ${quote(source)} is not a decimal number (write numbers like 16, 0.5 or 1e-3)`));
      }
    },
  });
  return doc.toJS({ maxAliasCount: 100 });
}

export function parseSpecText(text: string, path: string): LoadedSpec {
  let raw: unknown;
  if (extname(path).toLowerCase() === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(printableMessage(`sweep spec ${path}: not valid JSON: ${(e as Error).message}`));
    }
  } else {
    raw = parseYamlSpec(text, path);
  }
  try {
    checkNumbers(raw, '');
    return { ...validateSpec(raw, dirname(resolve(path))), label: `sweep spec ${path}` };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.message.replace(/^sweep spec: /, `sweep spec ${path}: `));
    throw e;
  }
}
