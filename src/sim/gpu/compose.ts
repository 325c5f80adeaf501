// Composes the WGSL module of one engine pipeline by explicit concatenation: a generated header
// (layout, sizes, policy dispatch), the shared helpers, the engine's files, and the WGSL twin of
// every router and scheduler the pipeline's lanes use. Each lane picks its policies at run time
// from its parameters; a pipeline built for a single scheduler or batching compiles that choice
// away (software adapters do that: there every branch of a switch runs, masked).
import { existsSync, readFileSync } from 'node:fs';
import { BATCHING_NAMES } from '../../policy/engine/batching/index.js';
import { ENGINE_SCHEDULERS } from '../../policy/engine/index.js';
import { schedulerRules, type Batching } from '../../policy/engine/types.js';
import type { Lane } from '../lane.js';
import { ROUTERS } from '../../policy/router/index.js';
import { ITERATION_WGSL } from '../../model/iteration.js';
import { layoutWgsl, AUX_SLOT_RECORDS, LANE, PARAMS, REPLICA_RECORDS, SLOT_RECORDS, HIST_WORDS } from './layout.js';


/** The engine's files under shaders/engine/, each one concept (state, limiter, metrics, ...). */
const ENGINE_FILES = ['state', 'limiter', 'metrics', 'clock', 'queue', 'cache', 'batch', 'fold', 'step'] as const;

/**
 * Counted loop iterations after which a loop-limited dispatch starts no new event (limiter.wgsl), for
 * one invocation per SIMD group. Mesa llvmpipe's loop limiter (65535 iterations, all loops together)
 * is shared by the invocations of one SIMD group, so with n of them each gets a smaller share.
 */
export const TICK_START_MAX = 16000;
export function tickStartMax(simdLanes: number): number {
  return simdLanes <= 1 ? TICK_START_MAX : Math.floor(24000 / simdLanes);
}

/** Invocations per workgroup on real GPUs; the software adapter uses its SIMD width (engine.ts). */
export const WORKGROUP_SIZE = 64;

const snake = (name: string) => name.replace(/-/g, '_');
const cache = new Map<string, string>();

function load(url: URL): string {
  const key = url.href;
  let text = cache.get(key);
  if (text === undefined) {
    text = readFileSync(url, 'utf8');
    cache.set(key, text);
  }
  return text;
}

/** A shared shader from shaders/ (histogram, rng, u64) or shaders/engine/ ('engine/step', ...). */
export function sharedShader(name: string): string {
  return load(new URL(`../../../shaders/${name}.wgsl`, import.meta.url));
}

const twinUrl = (kind: 'router' | 'engine', name: string) => new URL(`../../policy/${kind}/${name}.wgsl`, import.meta.url);

/** Which policies a pipeline's lanes use (registry names). */
export interface PipelinePolicies {
  routers: readonly string[];
  schedulers: readonly string[];
  batchings: readonly string[];
}

export interface PipelineShape {
  /** Replica slots per lane (see replicaSlots). */
  maxReplicas: number;
  /** Requests in flight per lane (sizes the slot buffer; the shader reads it as a uniform). */
  slots: number;
  /** vec4 records per slot: SLOT_RECORDS, or AUX_SLOT_RECORDS for the schedulers slotRecords names (default SLOT_RECORDS). */
  slotRecords?: number;
  workgroupSize?: number;
  /** Fold runs of identical decode iterations (default true; results are identical either way; a uniform). */
  fastForward?: boolean;
  /** State layout: lane-major (each lane's words contiguous, 64-byte aligned) or lane-minor. */
  laneMajor: boolean;
  /** The backend caps loop iterations per SIMD group (Mesa llvmpipe: 65535); see limiter.wgsl. */
  loopLimited: boolean;
  /** Check at the end of each dispatch that the cap was not hit (default: loopLimited). */
  loopProbe?: boolean;
  /** Invocations per SIMD group sharing that cap (default 1). */
  simdLanes?: number;
  /** Count each lane's work (instants, storage accesses, visits, loops) for `bench --work`. */
  workCounters?: boolean;
  /** Some lane has prefix caching on (cache.wgsl; its slots need the AUX record: slotRecords). */
  prefixCache?: boolean;
}

/**
 * Replica slots for a pipeline: a power of two, at least 16, so that few shader variants exist (a
 * cold compile takes seconds on llvmpipe; 16 slots cost a lane 2.9 KB more than 8, 4%); a constant,
 * not a uniform, because the constant made the replica accesses measurably (~15%) faster there.
 */
export function replicaSlots(maxReplicas: number): number {
  return Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, maxReplicas))));
}

/** Words per lane of each state buffer; lane-major strides are padded to 16 words (64 bytes). */
export function laneStrides(shape: Pick<PipelineShape, 'maxReplicas' | 'slots' | 'slotRecords'>) {
  const pad = (w: number) => Math.ceil(w / 16) * 16;
  return {
    params: PARAMS.words,
    ls: pad(LANE.words),
    // End times (four replicas per record), then the replicas' records: see state.wgsl rep_ix.
    reps: pad(4 * (shape.maxReplicas / 4 + REPLICA_RECORDS * shape.maxReplicas)),
    slots: pad(4 * (shape.slotRecords ?? SLOT_RECORDS) * shape.slots),
    hist: pad(HIST_WORDS),
  };
}

/** Bytes of device memory one lane of a shape holds. */
export function laneBytes(shape: Pick<PipelineShape, 'maxReplicas' | 'slots' | 'slotRecords'>): number {
  const s = laneStrides(shape);
  return 4 * (s.params + s.ls + s.reps + s.slots + s.hist);
}

/**
 * `fn name(args) -> u32` calling `prefix_<policy>` for the lane's policy: a switch over the registry
 * index in `selector`, or a direct call when the pipeline has one policy.
 */
function dispatcher(signature: string, args: string, selector: string, cases: { id: number; callee: string }[]): string {
  if (cases.length === 1) return `fn ${signature} { return ${cases[0].callee}(${args}); }`;
  const arms = cases.slice(0, -1).map((c) => `    case ${c.id}u: { return ${c.callee}(${args}); }`);
  arms.push(`    default: { return ${cases[cases.length - 1].callee}(${args}); }`);
  return [`fn ${signature} {`, `  switch (${selector}) {`, ...arms, '  }', '}'].join('\n');
}

/**
 * Rules a scheduler twin may add to the engine's defaults, by defining `fn <hook>_<name>`: the engine
 * calls `<hook>(...)` on lanes for which `has_<hook>()` holds (batch.wgsl, queue.wgsl).
 */
const SCHEDULER_HOOKS = [
  // A u64 queue key computed from the trace row at each comparison, for keys wider than the slot's KEY word.
  { hook: 'queue_key', params: 'index: u32', args: 'index', returns: 'vec2<u32>', none: 'vec2<u32>(0u)' },
  // Reservation admission (reservation.ts): the context request `index` is reserved to grow to.
  { hook: 'reserve_target', params: 'index: u32', args: 'index', returns: 'u32', none: '0u' },
  // SchedulerRules.preemptFirst: running request a (slot, hot record as the CPU reference has it
  // then: batch.wgsl victim_while_at) is strictly preferred to b as the victim.
  { hook: 'preempt_first', params: 's_a: u32, h_a: vec4<u32>, s_b: u32, h_b: vec4<u32>', args: 's_a, h_a, s_b, h_b', returns: 'bool', none: 'false' },
  // The key of a preempted request queued again with `output_left` tokens still to generate, for
  // schedulers whose key depends on the request's progress (the slot's KEY word is set from it).
  { hook: 'requeue_key', params: 'index: u32, output_left: u32', args: 'index, output_left', returns: 'u32', none: '0u' },
  // SchedulerRules.displaces: may the waiting head (slot, hot record) displace running request v
  // (settled)? Proactive preemption at the start of a batch formation (batch.wgsl displace_for_waiting).
  { hook: 'displaces', params: 's_head: u32, h_head: vec4<u32>, s_v: u32, h_v: vec4<u32>', args: 's_head, h_head, s_v, h_v', returns: 'bool', none: 'false' },
  // SchedulerRules.rekeyAfterTokens: the key of a running request after it generated tokens (its
  // KEY word `key`, `output_left` tokens still to generate). Lanes with it settle the previous batch
  // in a walk of its own, and requests whose key changed move to their new place in the running list.
  { hook: 'rekey_after_tokens', params: 'index: u32, key: u32, output_left: u32', args: 'index, key, output_left', returns: 'u32', none: 'key' },
  // SchedulerRules.tokensUntilRekey: tokens the request may still generate before its key changes
  // (a fold stops there).
  { hook: 'tokens_until_rekey', params: 'index: u32, key: u32, output_left: u32', args: 'index, key, output_left', returns: 'u32', none: '0xffffffffu' },
  // Keys that are lane times (the KEY word, moved with the clock's origin by rebase()).
  { hook: 'time_keys', params: '', args: '', returns: 'bool', none: 'false' },
  // Admission by the scheduler's own rule (SchedulerRules.admission other than reservation):
  // admission_begin() once per batch formation before any admission, then admission_admits(s, h,
  // tokens, force) for each waiting head (slot, hot record) in order; see batch.wgsl.
  { hook: 'admission_begin', params: '', args: '', returns: 'bool', none: 'false' },
  { hook: 'admission_admits', params: 's: u32, h: vec4<u32>, tokens: u32, force: bool', args: 's, h, tokens, force', returns: 'bool', none: 'true' },
  // SchedulerRules.beforeDecode, on a settled replica with an empty batch (prefill-priority batching).
  { hook: 'before_decode', params: '', args: '', returns: 'bool', none: 'false' },
  // The replica's SCHEDULER_WORD after a fold of `iterations` more decode iterations, and when the
  // replica runs and queues nothing (SchedulerRules.onFoldedDecodes, onIdle); stored as given.
  { hook: 'scheduler_word_after_folds', params: 'word: u32, iterations: u32', args: 'word, iterations', returns: 'u32', none: 'word' },
  { hook: 'scheduler_word_idle', params: 'word: u32', args: 'word', returns: 'u32', none: 'word' },
  // SchedulerRules.foldWithWaiting false: pure-decode batches fold only with nothing waiting.
  { hook: 'no_fold_with_waiting', params: '', args: '', returns: 'bool', none: 'false' },
  // SchedulerRules.runningOrder 'admission': admitted requests join the running list at its tail.
  { hook: 'running_appends', params: '', args: '', returns: 'bool', none: 'false' },
] as const;

/**
 * `has_<hook>()` and the `<hook>(...)` dispatcher over the pipeline's schedulers whose twin defines
 * it; on lanes whose scheduler does not, the dispatcher returns the hook's `none`.
 */
function schedulerHook(h: (typeof SCHEDULER_HOOKS)[number], schedulers: { id: number; name: string; text: string }[]): string {
  const cases = schedulers.filter((s) => s.text.includes(`fn ${h.hook}_${snake(s.name)}(`)).map((s) => ({ id: s.id, callee: `${h.hook}_${snake(s.name)}` }));
  const signature = `${h.hook}(${h.params}) -> ${h.returns}`;
  const all = cases.length === schedulers.length;
  const lanes = all ? 'true' : cases.length === 0 ? 'false' : cases.map((c) => `cfg.scheduler == ${c.id}u`).join(' || ');
  const partial = [
    `fn ${signature} {`,
    '  switch (cfg.scheduler) {',
    ...cases.map((c) => `    case ${c.id}u: { return ${c.callee}(${h.args}); }`),
    `    default: { return ${h.none}; }`,
    '  }',
    '}',
  ].join('\n');
  return [`fn has_${h.hook}() -> bool { return ${lanes}; }`, all ? dispatcher(signature, h.args, 'cfg.scheduler', cases) : partial].join('\n');
}

/**
 * Slot records a pipeline running these schedulers needs: the AUX record when a scheduler's victim
 * rule (preempt_first) meets a key stored in the slot's KEY word (no queue_key), since the victim
 * walk needs the chunk each request scheduled in the batch being formed (batch.wgsl note_chunk),
 * and when a lane caches prefixes (its second word: the request's cached blocks, cache.wgsl).
 */
export function slotRecords(schedulers: readonly string[], prefixCache = false): number {
  const aux = prefixCache || schedulers.some((s) => twinHooks(s).includes('preempt_first') && !twinHooks(s).includes('queue_key'));
  return aux ? AUX_SLOT_RECORDS : SLOT_RECORDS;
}

/**
 * Why prefix caching under the lane's scheduler and admission order has no GPU twin, or null. The
 * cache's twin (cache.wgsl) covers every batching and scheduler rule (their waiting requests'
 * first steps are read through head_prefill and head_blocks); an admission order by cached prefix
 * (sglang's lpm) has none: it would sort the waiting heap by cached prefix at each formation.
 */
export function prefixCacheTwinGap(lane: Lane): string | null {
  const { scheduler: s, profile: p } = lane;
  const lc = { blockSize: p.blockSize, kvBlocks: p.kvBlocks, maxModelLen: p.maxModelLen, watermarkBlocks: lane.watermarkBlocks };
  if (schedulerRules(s, lane.schedulerParams, lc).admissionOrder !== null) return `prefix caching with scheduler ${s.name}'s admission order (lpm) has no WGSL twin yet`;
  return null;
}

/** 0: reads no token view; 1: token views (TOKEN_VIEWS); 2: the predicted decode view too (PREDICTED_VIEW). */
const viewClass = (r: (typeof ROUTERS)[number]) => (r.usesPrediction ? 2 : r.tokenViews ? 1 : 0);

/**
 * The routers a pipeline compiles for lanes using `present`: every router with a WGSL twin that
 * reads no more views than the most demanding of them, or every one of them with `allViews`;
 * routers with a memory of their own (the prefix routers: their index code, prefix-index.wgsl) only
 * where one of them is present. Routers add little to a cold compile (llvmpipe: vllm-fcfs with 1
 * router 4.6 s, with the 5 that read no token view 4.6 s) while the views cost every lane of the
 * pipeline run time, so a scheduler has at most three pipeline variants (one with `allViews`), each
 * the same WGSL in every run and test that uses it: Mesa's shader disk cache compiles it once.
 */
export function pipelineRouters(present: readonly string[], allViews = false): string[] {
  const used = ROUTERS.filter((r) => present.includes(r.name));
  const level = allViews ? 2 : Math.max(0, ...used.map(viewClass));
  const memory = used.some((r) => r.init !== undefined);
  return ROUTERS.filter((r) => present.includes(r.name) || ((memory || r.init === undefined) && viewClass(r) <= level && existsSync(twinUrl('router', r.name)))).map((r) => r.name);
}

/** The SCHEDULER_HOOKS scheduler `name`'s WGSL twin defines (none without a twin). */
export function twinHooks(name: string): string[] {
  if (!existsSync(twinUrl('engine', name))) return [];
  const text = load(twinUrl('engine', name));
  return SCHEDULER_HOOKS.map((h) => h.hook).filter((hook) => text.includes(`fn ${hook}_${snake(name)}(`));
}

function twin(kind: 'router' | 'engine', name: string, fn: string): [string, string] {
  const path = `src/policy/${kind}/${name}.wgsl`;
  if (!existsSync(twinUrl(kind, name))) throw new Error(`${path}: no WGSL twin (its lanes must run on the CPU)`);
  const text = load(twinUrl(kind, name));
  if (!text.includes(`fn ${fn}(`)) throw new Error(`${path} must define fn ${fn}`);
  return [path, text];
}

export function composeEngine(policies: PipelinePolicies, shape: PipelineShape): string {
  const strides = laneStrides(shape);
  const index = (list: readonly { name: string }[], name: string) => list.findIndex((p) => p.name === name);
  const routers = policies.routers.map((name) => ({ id: index(ROUTERS, name), name, callee: `route_${snake(name)}` }));
  const schedulers = policies.schedulers.map((name) => ({ id: index(ENGINE_SCHEDULERS, name), name, callee: `priority_key_${snake(name)}` }));
  const batchings = policies.batchings.map((name) => ({ id: BATCHING_NAMES.indexOf(name as Batching), name, callee: `build_${snake(name)}` }));
  for (const p of [...routers, ...schedulers, ...batchings]) if (p.id < 0) throw new Error(`unknown policy ${p.name}`);
  const schedulerTwins = schedulers.map((s) => twin('engine', s.name, s.callee));
  const records = slotRecords(policies.schedulers, shape.prefixCache);
  if ((shape.slotRecords ?? SLOT_RECORDS) < records) throw new Error(`schedulers ${policies.schedulers.join(', ')} need ${records} slot records (PipelineShape.slotRecords)`);
  const header = [
    `// pipeline: routers ${policies.routers.join(', ')}; schedulers ${policies.schedulers.join(', ')}; batching ${policies.batchings.join(', ')}`,
    layoutWgsl(),
    `const MAX_REPLICAS: u32 = ${shape.maxReplicas}u;`,
    `const S_RECORDS: u32 = ${shape.slotRecords ?? SLOT_RECORDS}u;`,
    `const WORKGROUP_SIZE: u32 = ${shape.workgroupSize ?? WORKGROUP_SIZE}u;`,
    `const LANE_MAJOR: bool = ${shape.laneMajor};`,
    `const LOOP_LIMITED: bool = ${shape.loopLimited};`,
    `const LOOP_PROBE: bool = ${shape.loopProbe ?? shape.loopLimited};`,
    `const WORK_COUNTERS: bool = ${shape.workCounters === true};`,
    `const CACHING: bool = ${shape.prefixCache === true};`,
    `const TOKEN_VIEWS: bool = ${routers.some((r) => ROUTERS[r.id].tokenViews === true)};`,
    // The predicted decode view (state.wgsl token_view) costs loads per producer: only its readers pay.
    `const PREDICTED_VIEW: bool = ${routers.some((r) => ROUTERS[r.id].usesPrediction === true)};`,
    `const ROUTER_PARAMS_USED: bool = ${routers.some((r) => ROUTERS[r.id].gpuParams !== undefined)};`,
    `const TICK_START_MAX: u32 = ${tickStartMax(Math.min(shape.simdLanes ?? 1, shape.workgroupSize ?? WORKGROUP_SIZE))}u;`,
    `const LS_STRIDE: u32 = ${strides.ls}u;`,
    `const R_STRIDE: u32 = ${strides.reps}u;`,
    `const H_STRIDE: u32 = ${strides.hist}u;`,
    ...BATCHING_NAMES.map((b, i) => `const BATCHING_${snake(b).toUpperCase()}: u32 = ${i}u;`),
    dispatcher('route(req: u32) -> u32', 'req', 'cfg.router', routers),
    // `predicted` is the lane predictor's output length (state.wgsl trace_predicted).
    dispatcher('priority_key(prompt: u32, predicted: u32, index: u32) -> u32', 'prompt, predicted, index', 'cfg.scheduler', schedulers),
    // Whether the batch is pure decode (build_* in batch.wgsl).
    dispatcher('build_batch(r: u32, now: u32) -> bool', 'r, now', 'cfg.batching', batchings),
    ...SCHEDULER_HOOKS.map((h) => schedulerHook(h, schedulers.map((s, k) => ({ ...s, text: schedulerTwins[k][1] })))),
  ].join('\n');
  const parts: [string, string][] = [
    ['header', header],
    ...(['rng', 'histogram', 'u64'] as const).map((n): [string, string] => [`shaders/${n}.wgsl`, sharedShader(n)]),
    ['src/model/iteration.wgsl', load(ITERATION_WGSL)],
    ...ENGINE_FILES.map((n): [string, string] => [`shaders/engine/${n}.wgsl`, sharedShader(`engine/${n}`)]),
    ...schedulerTwins,
    // The prefix routers' memory and stale views: only pipelines holding one compile it.
    ...(routers.some((r) => ROUTERS[r.id].usesPrefixes === true) ? [twin('router', 'prefix-index', 'prefix_route_begin')] : []),
    ...routers.map((r) => twin('router', r.name, r.callee)),
  ];
  return parts.map(([name, text]) => `// ---- ${name} ----\n${text}`).join('\n');
}
