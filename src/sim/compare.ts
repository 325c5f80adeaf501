// Differential testing of the GPU engine against the CPU reference: random configurations biased
// toward the hard cases (memory pressure, preemption storms, bursts, same-instant ties), run on
// both engines and compared field for field.
import { firstDifference } from '../metrics/record.js';
import { ConfigError, DEFAULT_PROFILE, PROFILE_NAMES, resolveProfile, type ServingProfile } from '../model/profile.js';
import { SCHEDULER_NAMES, defaultBatching, engineScheduler } from '../policy/engine/index.js';
import { PREDICTORS } from '../policy/predictor/index.js';
import { ROUTER_NAMES, router as routerByName } from '../policy/router/index.js';
import { hasWgslTwin } from '../policy/twins.js';
import { draw } from '../rng.js';
import { scaleTrace, windowTrace, type Trace } from '../trace/trace.js';
import { runCpuJobs, defaultThreads } from './cpu/pool.js';
import type { Job } from './job.js';
import { resolveLane } from './lane.js';
import { prefixCacheTwinGap } from './gpu/compose.js';

/** Deterministic stream of uniform draws from one seed (rng.ts hash, counter-based). */
class Draws {
  private n = 0;
  constructor(private readonly seed: number) {}
  u32(): number {
    return draw(this.seed, 0x5eed, this.n++);
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.u32() % xs.length];
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
}

/** Arrivals rounded down to multiples of `quantumUs`, so many requests share an instant. */
function quantise(trace: Trace, quantumUs: number): Trace {
  return {
    ...trace,
    name: `${trace.name} (quantised ${quantumUs} µs)`,
    arrivalUs: trace.arrivalUs.map((a) => Math.floor(a / quantumUs) * quantumUs),
  };
}

export interface PolicySet {
  routers: readonly string[];
  schedulers: readonly string[];
}

/** The routers and schedulers the GPU engine can run: those with a WGSL twin (src/policy/twins.ts). */
export function gpuPolicies(): PolicySet {
  return {
    routers: ROUTER_NAMES.filter((r) => hasWgslTwin('router', r)),
    schedulers: SCHEDULER_NAMES.filter((s) => hasWgslTwin('scheduler', s)),
  };
}

/**
 * Draws for the parameters and predictor of a policy that declares parameter samples or reads
 * predictions; none for the others, so their draws stay what they were before such policies existed.
 */
function drawPolicyExtras(d: Draws, spec: Job['spec']): void {
  const s = engineScheduler(spec.scheduler.name);
  const r = routerByName(spec.router.name);
  if (s.samples) spec.scheduler.params = { ...spec.scheduler.params, ...d.pick(s.samples) };
  if (r.samples) spec.router.params = { ...spec.router.params, ...d.pick(r.samples) };
  if (s.usesPrediction || r.usesPrediction) {
    const p = d.pick(PREDICTORS);
    spec.predictor = { name: p.name, params: p.samples ? d.pick(p.samples) : {} };
  }
}

/**
 * The routers a draw over `trace` picks from: on a trace without prefix hashes, not those that read
 * prefixes (they would see no units, and their lanes compile pipelines of their own).
 */
function routersFor(trace: Trace, routers: readonly string[]): readonly string[] {
  return trace.prefixHashes ? routers : routers.filter((r) => !routerByName(r).usesPrefixes);
}

/** Whether the GPU engine's prefix cache twin covers the job's scheduler and batching. */
function cachesOnGpu(spec: Job['spec']): boolean {
  try {
    return prefixCacheTwinGap(resolveLane(spec)) === null;
  } catch (e) {
    if (e instanceof ConfigError) return false;
    throw e;
  }
}

/**
 * `count` random jobs over windows of `trace`: every router and scheduler with a WGSL twin (or every
 * registered one, `policies: 'all'`, for CPU-only property tests, or those of a PolicySet; the
 * prefix routers only on traces with prefix hashes, but under 'all'), prefix
 * caching on traces with prefix hashes (on the GPU's draws, under schedulers its cache twin covers),
 * 1..16 replicas, profile presets with random overrides (small KV caches, small batch limits, block
 * sizes 1..32), rate scales 0.5..20, SLOs and seeds. Jobs with the same window, scale and quantum share one Trace.
 */
export function randomJobs(trace: Trace, count: number, seed: number, policies: 'gpu' | 'all' | PolicySet = 'gpu'): Job[] {
  const d = new Draws(seed >>> 0);
  const durationS = trace.arrivalUs.length > 0 ? trace.arrivalUs[trace.arrivalUs.length - 1] / 1e6 : 0;
  // A few windows per call so that scaled traces are shared between jobs.
  const windows = Array.from({ length: 4 }, () => {
    const len = d.int(30, 300);
    return { start: d.int(0, Math.max(0, Math.floor(durationS - len))), len };
  });
  const scales = [0.5, 1, 2, 3.5, 5, 8, 12, 20];
  const quanta = [0, 0, 0, 1000, 100_000, 1_000_000];
  const traces = new Map<string, Trace>();
  const traceFor = (w: { start: number; len: number }, scale: number, quantum: number) => {
    const key = `${w.start}/${w.len}/${scale}/${quantum}`;
    let t = traces.get(key);
    if (!t) {
      t = scaleTrace(windowTrace(trace, w.start, w.len), scale);
      if (quantum > 0) t = quantise(t, quantum);
      traces.set(key, t);
    }
    return t;
  };
  const drawn = policies === 'all' ? { routers: ROUTER_NAMES, schedulers: SCHEDULER_NAMES } : policies === 'gpu' ? gpuPolicies() : policies;
  const schedulers = drawn.schedulers;
  // CPU property tests ('all') draw every router on any trace, as they always did.
  const routers = policies === 'all' ? drawn.routers : routersFor(trace, drawn.routers);
  const jobs: Job[] = [];
  while (jobs.length < count) {
    const scheduler = d.pick(schedulers);
    const chunked = !defaultBatching(scheduler).wholePrompts;
    const preset = d.pick(PROFILE_NAMES.filter((p) => p !== 'tiny-test' || d.chance(0.3)));
    const base = resolveProfile(preset);
    const overrides: Parameters<typeof resolveProfile>[1] = {};
    const pressure = d.chance(0.6);
    if (d.chance(0.5)) overrides.blockSize = d.int(1, 32);
    const blockSize = overrides.blockSize ?? base.blockSize;
    if (d.chance(0.4)) overrides.maxModelLen = d.pick([512, 2048, 4096, 8192].filter((m) => m <= base.maxModelLen * 4));
    const maxModelLen = overrides.maxModelLen ?? base.maxModelLen;
    if (pressure) {
      // Enough blocks for a few long requests only: preemption storms and kv-capacity rejections.
      const tokens = d.int(Math.min(256, maxModelLen), maxModelLen * d.int(1, 8));
      overrides.kvBlocks = Math.max(1, Math.ceil(tokens / blockSize));
    }
    if (d.chance(0.5)) overrides.maxNumSeqs = d.pick([1, 2, 4, 8, 16, 32, 64, 128, 256]);
    if (chunked) {
      if (d.chance(0.6)) overrides.maxBatchedTokens = d.pick([16, 64, 256, 512, 2048, 8192]);
    } else if (d.chance(0.3)) {
      overrides.maxBatchedTokens = maxModelLen * d.int(1, 3);
    } else if (base.maxBatchedTokens < maxModelLen) {
      overrides.maxBatchedTokens = maxModelLen;
    }
    let profile: ServingProfile;
    try {
      profile = resolveProfile(preset, overrides);
    } catch (e) {
      if (e instanceof ConfigError) continue; // e.g. an iteration bound above u32 ns
      throw e;
    }
    const scale = d.pick(scales);
    const jobTrace = traceFor(d.pick(windows), scale, d.pick(quanta));
    const replicas = d.chance(0.3) ? d.int(1, 3) : d.int(1, 16);
    const spec: Job['spec'] = {
      replicas,
      router: { name: d.pick(routers) },
      scheduler: { name: scheduler, params: d.chance(0.5) ? { watermarkPermille: d.pick([0, 1, 10, 50, 200]) } : {} },
      profile,
      seed: d.u32(),
      slo: { ttftMs: d.pick([50, 250, 1000, 2000, 10_000]), tpotMs: d.pick([10, 30.5, 100, 500]) },
    };
    drawPolicyExtras(d, spec);
    // Prefix caching, only over traces with prefix hashes (so the draws over other traces stay what
    // they were), and for the GPU only where its twin covers the scheduler (gpu/compose.ts).
    if (jobTrace.prefixHashes && (policies === 'all' || cachesOnGpu(spec)) && d.chance(0.6)) spec.prefixCache = 'on';
    try {
      resolveLane(spec);
    } catch (e) {
      if (e instanceof ConfigError) continue;
      throw e;
    }
    jobs.push({ trace: jobTrace, spec });
  }
  return jobs;
}

/**
 * The benchmark's lanes: a grid of every router x scheduler with a WGSL twin (the prefix routers only
 * on a trace with prefix hashes), then rate scales 1, 2, 4, then
 * 2, 4, 8 replicas (or `replicas` for all), then seeds, over one base trace on the default
 * profile. Jobs with the same rate scale share one Trace object (and its rows on the GPU).
 */
export function gridJobs(base: Trace, count: number, fixed: { replicas?: number; profile?: ServingProfile } = {}): Job[] {
  const scales = [1, 2, 4];
  const traces = scales.map((s) => scaleTrace(base, s));
  const profile = fixed.profile ?? resolveProfile(DEFAULT_PROFILE);
  const { schedulers } = gpuPolicies();
  const routers = routersFor(base, gpuPolicies().routers);
  const jobs: Job[] = [];
  for (let i = 0; jobs.length < count; i++) {
    const router = routers[i % routers.length];
    const scheduler = schedulers[Math.floor(i / routers.length) % schedulers.length];
    const k = Math.floor(i / (routers.length * schedulers.length));
    const replicas = fixed.replicas ?? [2, 4, 8][Math.floor(k / scales.length) % 3];
    jobs.push({ trace: traces[k % scales.length], spec: { replicas, router: { name: router }, scheduler: { name: scheduler }, profile, seed: k } });
  }
  return jobs;
}

export interface CompareRow {
  index: number;
  equal: boolean;
  difference: string | null;
  /** Which engine produced the "GPU" record ('cpu' when the lane fell back), and why. */
  engine: 'cpu' | 'gpu';
  fallback?: string;
}

/** Runs jobs on both engines and compares every record field for field. */
export async function compareJobs(
  jobs: Job[],
  opts: {
    threads?: number;
    slotCapacity?: number;
    retrySlotCapacity?: number;
    stepsPerDispatch?: number;
    onProgress?: (engine: 'gpu' | 'cpu', done: number, total: number) => void;
  } = {},
): Promise<{ rows: CompareRow[]; gpuSeconds: number; cpuSeconds: number; backend: string; cpuThreads: number }> {
  const { runGpuJobs } = await import('./gpu/engine.js');
  const threads = opts.threads ?? defaultThreads();
  const progress = opts.onProgress;
  let t0 = performance.now();
  // Every lane's record must come from the GPU to be compared: no tail race.
  const gpu = await runGpuJobs(jobs, {
    raceTail: false,
    slotCapacity: opts.slotCapacity,
    retrySlotCapacity: opts.retrySlotCapacity,
    stepsPerDispatch: opts.stepsPerDispatch,
    threads,
    onProgress: progress && ((done, total) => progress('gpu', done, total)),
  });
  const gpuSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const cpu = await runCpuJobs(jobs, threads, progress && ((done, total) => progress('cpu', done, total)));
  const cpuSeconds = (performance.now() - t0) / 1000;
  const rows = jobs.map((_, index) => {
    const difference = firstDifference(cpu[index].raw, gpu.results[index].raw);
    return { index, equal: difference === null, difference, engine: gpu.results[index].engine, fallback: gpu.results[index].fallback };
  });
  return { rows, gpuSeconds, cpuSeconds, backend: gpu.backend.description, cpuThreads: Math.min(threads, jobs.length) };
}
