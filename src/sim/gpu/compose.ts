// Composes the WGSL module of one policy family (router x scheduler) by explicit concatenation:
// sizes first, then shared helpers, the scheduler and router twins, and the engine.
import { readFileSync } from 'node:fs';
import { ITERATION_WGSL, MODEL_WORDS } from '../../model/iteration.js';

export const ROUTER_WGSL = ['round-robin', 'random', 'least-outstanding', 'power-of-two', 'least-kv'] as const;
export const SCHEDULER_WGSL = ['vllm-fcfs', 'chunked-prefill', 'sjf'] as const;

/** Largest block size the fast-forward residue table (RES_CAP words per replica) holds. */
export const RES_CAP = 64;
/**
 * Counted loop iterations after which a loop-limited dispatch starts no new event (engine.wgsl), for
 * one invocation per SIMD group. Mesa llvmpipe's loop limiter (65535 iterations, all loops together)
 * is shared by the invocations of one SIMD group, so with n of them each gets a smaller share.
 */
export const TICK_START_MAX = 16000;
export function tickStartMax(simdLanes: number): number {
  return simdLanes <= 1 ? TICK_START_MAX : Math.floor(24000 / simdLanes);
}

/** Invocations per workgroup on real GPUs; the software adapter uses its SIMD width (engine.ts). */
export const WORKGROUP_SIZE = 64;

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

/** A shared shader from shaders/ (engine, histogram, rng, u64). */
export function sharedShader(name: 'engine' | 'histogram' | 'rng' | 'u64'): string {
  return load(new URL(`../../../shaders/${name}.wgsl`, import.meta.url));
}

export function routerShader(name: string): string {
  if (!(ROUTER_WGSL as readonly string[]).includes(name)) throw new Error(`router ${name} has no WGSL twin`);
  return load(new URL(`../../policy/router/${name}.wgsl`, import.meta.url));
}

export function schedulerShader(name: string): string {
  if (!(SCHEDULER_WGSL as readonly string[]).includes(name)) throw new Error(`scheduler ${name} has no WGSL twin`);
  return load(new URL(`../../policy/engine/${name}.wgsl`, import.meta.url));
}

export interface FamilySizes {
  /** Replica slots per lane (max replicas of any lane in the pipeline's chunks, see replicaSlots). */
  maxReplicas: number;
  /** Requests in flight per lane. */
  slots: number;
  workgroupSize?: number;
  /** Fold runs of identical decode iterations (default true; results are identical either way). */
  fastForward?: boolean;
  /** State layout: lane-major (each lane's words contiguous, 64-byte aligned) or lane-minor. */
  laneMajor: boolean;
  /** The backend caps loop iterations per SIMD group (Mesa llvmpipe: 65535); see engine.wgsl tick(). */
  loopLimited: boolean;
  /** Check at the end of each dispatch that the cap was not hit (default: loopLimited). */
  loopProbe?: boolean;
  /** Invocations per SIMD group sharing that cap (default 1). */
  simdLanes?: number;
  /** Count each lane's work (instants, storage accesses, visits, loops) for `bench --work`. */
  workCounters?: boolean;
}

/**
 * Replica slots for a pipeline: a power of two, at least 8, so that few shader variants exist (a cold
 * compile takes seconds on llvmpipe); a constant, not a uniform, because the constant made the
 * replica accesses measurably (~15%) faster there.
 */
export function replicaSlots(maxReplicas: number): number {
  return Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(1, maxReplicas))));
}

/** Words per lane of each state buffer; lane-major strides are padded to 16 words (64 bytes). */
export function laneStrides(sizes: Pick<FamilySizes, 'maxReplicas' | 'slots'>) {
  const pad = (w: number) => Math.ceil(w / 16) * 16;
  return {
    ls: pad(LANE_WORDS),
    reps: pad(REPLICA_FIELDS * sizes.maxReplicas),
    slots: pad(SLOT_FIELDS * sizes.slots),
    hist: pad(HIST_WORDS),
  };
}

// Word counts; must match shaders/engine.wgsl.
export const PARAM_FIELDS = 12 + MODEL_WORDS; // the model words last (engine.wgsl P_MODEL)
export const LANE_WORDS = 75;
export const REPLICA_FIELDS = 16 + RES_CAP; // 4 vec4 records, then the fold's residue table
export const SLOT_FIELDS = 16; // 13 used, in 4 vec4 records
export const HIST_WORDS = 6 * 1728;

export function composeEngine(router: string, scheduler: string, sizes: FamilySizes): string {
  const strides = laneStrides(sizes);
  const header = [
    `// family: router ${router} x scheduler ${scheduler}`,
    `const MAXR: u32 = ${sizes.maxReplicas}u;`,
    `const SLOTS: u32 = ${sizes.slots}u;`,
    `const RES_CAP: u32 = ${RES_CAP}u;`,
    `const WG: u32 = ${sizes.workgroupSize ?? WORKGROUP_SIZE}u;`,
    `const FF_ON: bool = ${sizes.fastForward === false ? 'false' : 'true'};`,
    `const LANE_MAJOR: bool = ${sizes.laneMajor};`,
    `const LOOP_LIMITED: bool = ${sizes.loopLimited};`,
    `const LOOP_PROBE: bool = ${sizes.loopProbe ?? sizes.loopLimited};`,
    `const WORK_COUNTERS: bool = ${sizes.workCounters === true};`,
    `const TICK_START_MAX: u32 = ${tickStartMax(Math.min(sizes.simdLanes ?? 1, sizes.workgroupSize ?? WORKGROUP_SIZE))}u;`,
    `const LS_STRIDE: u32 = ${strides.ls}u;`,
    `const R_STRIDE: u32 = ${strides.reps}u;`,
    `const S_STRIDE: u32 = ${strides.slots}u;`,
    `const H_STRIDE: u32 = ${strides.hist}u;`,
  ].join('\n');
  const parts: [string, string][] = [
    ['header', header],
    ['shaders/rng.wgsl', sharedShader('rng')],
    ['shaders/histogram.wgsl', sharedShader('histogram')],
    ['shaders/u64.wgsl', sharedShader('u64')],
    ['src/model/iteration.wgsl', load(ITERATION_WGSL)],
    [`src/policy/engine/${scheduler}.wgsl`, schedulerShader(scheduler)],
    [`src/policy/router/${router}.wgsl`, routerShader(router)],
    ['shaders/engine.wgsl', sharedShader('engine')],
  ];
  return parts.map(([name, text]) => `// ---- ${name} ----\n${text}`).join('\n');
}
