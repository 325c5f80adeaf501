// Host side of the GPU engine. It reads as: pack the traces -> decide which lanes can run on the
// GPU -> group them into pipelines and chunks -> compile -> run the chunks in waves (the event loop
// runs in the shader, U.steps instants per dispatch; the host polls one live-lane word per chunk
// and submit) -> retry lanes whose slot table overflowed -> run the rest on the CPU reference.
import { ENGINE_SCHEDULERS } from '../../policy/engine/index.js';
import type { TraceMaxima } from '../../policy/engine/types.js';
import { ROUTERS } from '../../policy/router/index.js';
import type { Trace } from '../../trace/trace.js';
import { CpuPool, defaultThreads, runCpuJobs } from '../cpu/pool.js';
import type { BackendInfo, Job, JobResult } from '../job.js';
import { resolveLane, type Lane } from '../lane.js';
import { packModelWords } from '../../model/iteration.js';
import { ChunkRun, engineLayouts, type LaneInput } from './chunk.js';
import { BATCHING_NAMES } from '../../policy/engine/batching/index.js';
import { hasWgslTwin } from '../../policy/twins.js';
import { predictOutputs } from '../../policy/predictor/index.js';
import { oracle } from '../../policy/predictor/oracle.js';
import { composeEngine, laneBytes, laneStrides, pipelineRouters, replicaSlots, prefixCacheTwinGap, slotRecords, WORKGROUP_SIZE, type PipelinePolicies, type PipelineShape } from './compose.js';
import { prefixUnits } from '../prefix-units.js';
import { createComputePipeline, deviceLostMessage, requireDevice, type GpuDevice } from './device.js';
import { cacheRegionWords, cacheTableSlots, MAX_GPU_REPLICAS, MAX_SLOTS, NO_PREDICTIONS, NO_PREFIX_CACHE, NO_PREFIX_UNITS, PARAMS, prefixIndexWords, prefixRouterWords, RES_CAP, STOP, stopReason, type ParamName } from './layout.js';
import { prefixIndexCapacity } from '../../policy/router/prefix-index.js';

export interface GpuRunOptions {
  onProgress?: (done: number, total: number) => void;
  /** Event instants each lane advances per dispatch (default 64). */
  stepsPerDispatch?: number;
  /** Requests in flight per lane (default 1024); a lane needing more is retried (below) or falls back to the CPU. */
  slotCapacity?: number;
  /**
   * Slot capacity of one more GPU pass for the lanes whose slot table overflowed (default 16 x
   * slotCapacity on hardware adapters, none on software ones, where the CPU reference is faster
   * for such long-queued lanes); 0 sends them straight to the CPU.
   */
  retrySlotCapacity?: number;
  /** Cap on lanes per chunk (default: as many as the binding size limit allows; 4096 on software adapters). */
  maxLanesPerChunk?: number;
  /** CPU threads for fallback lanes (default: all cores). */
  threads?: number;
  /** Invocations per workgroup (default: the SIMD width on a software adapter, 64 elsewhere). */
  workgroupSize?: number;
  /** Fast-forward decode runs in the shader (default true; results are identical either way). */
  fastForward?: boolean;
  /** State layout (default: lane-major on a software adapter, lane-minor elsewhere; see state.wgsl). */
  laneMajor?: boolean;
  /**
   * Work within a software adapter's loop limiter (default: on software adapters). Off there, lanes
   * run the hardware code path (no split events) and any lane that hits the limiter falls back.
   */
  loopLimited?: boolean;
  /**
   * One pipeline per router x scheduler family instead of one per scheduler with the router chosen
   * per lane (default false; for comparisons: on llvmpipe both cost the same CPU time per lane, and
   * families multiply cold compiles).
   */
  pipelinePerFamily?: boolean;
  /** Count each lane's work in the shader (JobResult.work) and submits/dispatches on the host. */
  workCounters?: boolean;
  /**
   * Race the last lanes still running on the GPU against CPU runs (default true; TailRace): off
   * where every record must come from the GPU (the differential tests).
   */
  raceTail?: boolean;
}

/** The reason a raced lane's record gives (JobResult.fallback). */
export const TAIL_RACE_REASON = 'a heavy lane: among the last still running on the GPU, the CPU reference finished it first';
/** A wave races its tail only after running this long (so short runs start no worker threads). */
const RACE_AFTER_MS = 1000;

/** Host-side work of one GPU run: command submissions and dispatches. */
export interface HostWork {
  submits: number;
  dispatches: number;
}

const U32_MAX = 0xffffffff;
const MiB = 1024 * 1024;
/** Device memory one wave of chunks may hold at once on a software adapter (host memory there). */
const SOFTWARE_WAVE_BYTES = 1536 * MiB;
/** On a hardware adapter: WebGPU does not say how much memory the device has; 12 GiB fits any data-centre GPU. */
const HARDWARE_WAVE_BYTES = 12 * 1024 * MiB;

export async function runGpuJobs(jobs: Job[], opts: GpuRunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo; hostWork: HostWork }> {
  const gpu = await requireDevice();
  const slotCap = opts.slotCapacity ?? 1024;
  if (!Number.isInteger(slotCap) || slotCap < 1 || slotCap > MAX_SLOTS) throw new Error(`slotCapacity must be an integer in 1..${MAX_SLOTS}, got ${slotCap}`);
  const shapeBase = baseShape(gpu, opts, slotCap);
  const lanes: Lane[] = jobs.map((j) => resolveLane(j.spec));
  const results: JobResult[] = new Array(jobs.length);
  const fallback = new Map<number, string>();
  const maxBinding = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const traces = new TraceBuffer(jobs, maxBinding / 4);
  if (traces.rows * 16 > maxBinding) throw new Error(`traces hold ${traces.rows} rows, above the ${maxBinding / MiB} MiB binding limit`);

  const onGpu: number[] = [];
  const predicted = new Array<number>(jobs.length).fill(NO_PREDICTIONS);
  const units = new Array<number>(jobs.length).fill(NO_PREFIX_CACHE);
  const routerUnits = new Array<number>(jobs.length).fill(NO_PREFIX_UNITS);
  jobs.forEach((job, i) => {
    const why =
      gpuEligibility(lanes[i], traces.problem(job.trace), job.trace) ??
      placePredictions(lanes[i], job.trace, traces, predicted, i) ??
      placePrefixUnits(lanes[i], job.trace, traces, units, i, maxBinding) ??
      placeRouterUnits(lanes[i], job.trace, traces, routerUnits, i, maxBinding);
    if (why) fallback.set(i, why);
    else onGpu.push(i);
  });
  const traceWords = traces.words();
  const groups = groupLanes(onGpu, jobs, lanes, shapeBase, opts.pipelinePerFamily ?? false, gpu.software);
  const chunks = planChunks(groups, jobs, lanes, gpu, opts);
  const pipelines = await buildPipelines(gpu.device, groups);

  const tRun = performance.now();
  const debug = process.env.SCHEDLAB_GPU_DEBUG ? (s: string) => console.error(s) : () => {};
  debug(`pipelines ready: ${groups.length} pipeline(s), ${chunks.length} chunk(s)`);
  const traceBuf = gpu.device.createBuffer({ label: 'engine.traces', size: Math.max(16, traceWords.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  gpu.device.queue.writeBuffer(traceBuf, 0, traceWords);
  const total = jobs.length;
  let done = fallback.size;
  opts.onProgress?.(done, total);
  const hostWork: HostWork = { submits: 0, dispatches: 0 };
  const steps = opts.stepsPerDispatch ?? 64;
  const waveBytes = gpu.software ? SOFTWARE_WAVE_BYTES : HARDWARE_WAVE_BYTES;

  const threads = opts.threads ?? defaultThreads();
  const race = new TailRace(jobs, threads);
  // Waves of chunks bounded by device memory; all chunks of a wave share each submit.
  let c0 = 0;
  while (c0 < chunks.length) {
    const waveStart = performance.now();
    let c1 = c0;
    let bytes = 0;
    while (c1 < chunks.length && (c1 === c0 || bytes + chunks[c1].bytes <= waveBytes)) bytes += chunks[c1++].bytes;
    let active = chunks.slice(c0, c1).map((c) => {
      const inputs = c.jobs.map((j) => laneInput(lanes[j], jobs[j].trace, traces.offset(jobs[j].trace), predicted[j], units[j], routerUnits[j]));
      return { plan: c, run: new ChunkRun(gpu.device, pipelines.get(c.group)!, traceBuf, inputs, c.group.shape, steps, c.label) };
    });
    c0 = c1;
    let dispatches = 2;
    while (active.length > 0) {
      const t0 = performance.now();
      const enc = gpu.device.createCommandEncoder({ label: 'engine.submit' });
      for (const a of active) a.run.encode(enc, dispatches);
      gpu.device.queue.submit([enc.finish()]);
      hostWork.submits++;
      hostWork.dispatches += dispatches * active.length;
      const liveCounts = await Promise.all(active.map((a) => a.run.readLive()));
      const lost = deviceLostMessage();
      if (lost) throw new Error(`${lost} (while running ${active.length} chunk(s), ${steps} steps x ${dispatches} dispatches)`);
      let liveNow = liveCounts.reduce((a, b) => a + b, 0);
      if (opts.raceTail !== false && !race.started && liveNow > 0 && liveNow <= threads && performance.now() - waveStart > RACE_AFTER_MS) {
        const live = await Promise.all(active.map((a) => a.run.liveLanes()));
        race.start(live.flatMap((lanesLive, k) => lanesLive.map((l) => active[k].plan.jobs[l])));
      }
      // Every lane still on the GPU has its CPU record: the GPU's work on them stops here.
      const raceWon = race.started && race.allDone();
      const finished = active.filter((_, k) => liveCounts[k] === 0 || raceWon);
      active = active.filter((_, k) => liveCounts[k] !== 0 && !raceWon);
      for (const f of finished) {
        const outcomes = await f.run.collect();
        outcomes.forEach((o, l) => {
          const j = f.plan.jobs[l];
          const cpu = 'raw' in o || o.status !== 0 ? undefined : race.result(j);
          if ('raw' in o) results[j] = { raw: o.raw, engine: 'gpu', ...(o.work ? { work: o.work } : {}) };
          else if (cpu) results[j] = { ...cpu, fallback: TAIL_RACE_REASON };
          else fallback.set(j, stopReason(o.status));
        });
        done += f.run.lanes;
      }
      if (raceWon) liveNow = 0;
      opts.onProgress?.(done + active.reduce((a, c) => a + c.run.lanes, 0) - liveNow, total);
      // Aim for submits of 50..400 ms: long enough to hide the readback, short of any watchdog.
      const ms = performance.now() - t0;
      debug(`submit: ${active.length + finished.length} chunks x ${dispatches} dispatches, live ${liveNow}, ${ms.toFixed(0)} ms`);
      if (ms < 50 && dispatches < 256) dispatches *= 2;
      else if (ms > 400 && dispatches > 1) dispatches = Math.max(1, dispatches >> 1);
    }
  }
  traceBuf.destroy();
  await race.close();
  debug(`engine loop ${(performance.now() - tRun).toFixed(0)} ms${race.started ? `; raced ${race.size} tail lane(s), the CPU won ${race.won}` : ''}`);

  // Overloaded lanes keep their queues on the GPU with a larger slot table: on a hardware GPU a few
  // percent of lanes falling back to the CPU could take longer than all the others together.
  const retryCap = Math.min(MAX_SLOTS, opts.retrySlotCapacity ?? (gpu.software ? 0 : 16 * slotCap));
  const overflowed = [...fallback].filter(([, why]) => why === STOP.SLOTS.reason).map(([i]) => i);
  if (retryCap > slotCap && overflowed.length > 0) {
    const again = await runGpuJobs(
      overflowed.map((i) => jobs[i]),
      { ...opts, slotCapacity: retryCap, retrySlotCapacity: 0, onProgress: undefined },
    );
    overflowed.forEach((i, k) => {
      results[i] = again.results[k];
      fallback.delete(i);
    });
    hostWork.submits += again.hostWork.submits;
    hostWork.dispatches += again.hostWork.dispatches;
  }

  if (fallback.size > 0) {
    const idx = [...fallback.keys()];
    const cpu = await runCpuJobs(
      idx.map((i) => jobs[i]),
      threads,
    );
    idx.forEach((i, k) => {
      results[i] = { ...cpu[k], fallback: fallback.get(i) };
    });
  }
  opts.onProgress?.(total, total);
  return { results, backend: { engine: 'gpu', description: gpu.description }, hostWork };
}

/**
 * The last lanes still running on the GPU race CPU runs of the same lanes. One GPU thread is a slow
 * serial processor (a lane instant costs it several times what it costs a host core), so once no
 * more lanes than host threads are left, a few heavy lanes (long windows, deep overload) would keep
 * the whole run waiting on the GPU; on the CPU they run beside it, and whichever engine finishes a
 * lane first gives its record (both are exact). Lanes the GPU finishes first keep the GPU's record.
 */
class TailRace {
  private readonly results = new Map<number, JobResult>();
  private readonly raced: number[] = [];
  private pool: CpuPool | null = null;
  won = 0;

  constructor(
    private readonly jobs: Job[],
    private readonly threads: number,
  ) {}

  get started(): boolean {
    return this.pool !== null;
  }

  get size(): number {
    return this.raced.length;
  }

  start(jobIndices: number[]): void {
    this.pool = new CpuPool(Math.max(1, Math.min(this.threads, jobIndices.length)));
    for (const j of jobIndices) {
      this.raced.push(j);
      // A run the GPU wins is cancelled by close(): its rejection is expected.
      this.pool.run(this.jobs[j]).then(
        (r) => this.results.set(j, r),
        () => {},
      );
    }
  }

  allDone(): boolean {
    return this.raced.every((j) => this.results.has(j));
  }

  /** The CPU record of job j, if its race run has finished (counts it as won). */
  result(j: number): JobResult | undefined {
    const r = this.results.get(j);
    if (r) this.won++;
    return r;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/** The shape every pipeline of this run starts from (replica slots are set per group). */
function baseShape(gpu: GpuDevice, opts: GpuRunOptions, slots: number): PipelineShape {
  // llvmpipe runs a workgroup in SIMD groups of its vector width ("llvmpipe-...-256-bits" on GL ES,
  // "llvmpipe (LLVM 15.0.6, 256 bits)" as lavapipe: 8 u32), whose lanes share one loop limiter; one
  // SIMD group per workgroup keeps workgroups small.
  const simd = gpu.software ? simdWidth(gpu.description) : 1;
  return {
    maxReplicas: 8,
    slots,
    workgroupSize: opts.workgroupSize ?? (gpu.software ? simd : hardwareWorkgroupSize(gpu)),
    fastForward: opts.fastForward,
    laneMajor: opts.laneMajor ?? gpu.software,
    loopLimited: opts.loopLimited ?? gpu.software,
    loopProbe: gpu.software,
    simdLanes: simd,
    workCounters: opts.workCounters,
  };
}

/**
 * Why a lane cannot run on the GPU engine exactly, or null: every reason in one place. Lanes with a
 * reason run on the CPU reference, and their records say why.
 */
export function gpuEligibility(lane: Lane, traceProblem: string | null, trace?: Trace): string | null {
  if (traceProblem) return traceProblem;
  if (!hasWgslTwin('scheduler', lane.scheduler.name)) return `scheduler ${lane.scheduler.name} has no WGSL twin yet`;
  if (!hasWgslTwin('router', lane.router.name)) return `router ${lane.router.name} has no WGSL twin yet`;
  const headroom = trace && lane.scheduler.gpuHeadroom?.(lane.schedulerParams, laneMaxima(lane, trace));
  if (headroom) return headroom;
  const cacheGap = lane.prefixCache && prefixCacheTwinGap(lane);
  if (cacheGap) return cacheGap;
  const routerWords = trace ? laneRouterWords(lane, trace) : 0;
  if (4 * routerWords > ROUTER_MEMORY_BUDGET) {
    return `its prefix router's memory takes ${((4 * routerWords) / MiB).toFixed(1)} MiB (${lane.replicas} replicas x ${prefixRouterCapacity(lane, trace!)} prefix units), above the GPU engine's ${ROUTER_MEMORY_BUDGET / MiB} MiB budget`;
  }
  if (lane.replicas > MAX_GPU_REPLICAS) return `${lane.replicas} replicas, above the GPU engine's ${MAX_GPU_REPLICAS}`;
  if (lane.profile.blockSize > RES_CAP) return `blockSize ${lane.profile.blockSize} above the GPU engine's ${RES_CAP}`;
  if (lane.profile.kvBlocks > 2 ** 31) return `kvBlocks ${lane.profile.kvBlocks} above 2^31`;
  // The iteration model's context sums are u32 (iteration.wgsl).
  if (lane.profile.kvBlocks * lane.profile.blockSize >= 2 ** 32) return `KV tokens ${lane.profile.kvBlocks * lane.profile.blockSize} above 2^32-1`;
  return null;
}

/** Words of a lane's region of the cache binding: its prefix caches (cache.wgsl), then its prefix router's memory (prefix-index.wgsl). */
export function laneCacheWords(lane: Lane, trace: Trace): number {
  return (lane.prefixCache ? lane.replicas * cacheRegionWords(lane.profile.kvBlocks) : 0) + laneRouterWords(lane, trace);
}

/**
 * Most bytes of a prefix router's memory per lane on the GPU: a lane's region of the cache binding
 * is copied for every lane of its chunk, and 32 MiB is 57 replicas' indexes at the default profile's
 * KV capacity in 16-token units (capacityPermille 1000).
 */
const ROUTER_MEMORY_BUDGET = 32 * MiB;

/** Chain ids the lane's prefix router remembers per replica (PrefixIndex.capacity), 0 for other routers. */
function prefixRouterCapacity(lane: Lane, trace: Trace): number {
  if (!lane.router.usesPrefixes) return 0;
  const permille = (lane.routerParams as { capacityPermille?: number }).capacityPermille;
  if (permille === undefined) throw new Error(`router ${lane.router.name} reads prefixes without a PrefixIndex (capacityPermille): its GPU twin has no memory for it`);
  const p = lane.profile;
  return prefixIndexCapacity({ kvBlocks: p.kvBlocks, blockSize: p.blockSize, prefixUnitTokens: prefixUnits(trace)?.unitTokens ?? 0 }, permille);
}

/** Words of the lane's prefix router's memory in the cache binding (prefix-index.wgsl), 0 for other routers. */
function laneRouterWords(lane: Lane, trace: Trace): number {
  if (!lane.router.usesPrefixes) return 0;
  return prefixRouterWords(lane.replicas, prefixRouterCapacity(lane, trace), prefixUnits(trace) !== null);
}

/** Puts lane i's trace's prefix units in the trace buffer for its prefix router (routerUnits[i]: their word), or says why its memory cannot be on the GPU. */
function placeRouterUnits(lane: Lane, trace: Trace, traces: TraceBuffer, routerUnits: number[], i: number, maxBinding: number): string | null {
  if (!lane.router.usesPrefixes) return null;
  const bytes = 4 * laneCacheWords(lane, trace);
  if (bytes > maxBinding) return `its prefix caches and prefix router's memory take ${(bytes / MiB).toFixed(1)} MiB, above the ${maxBinding / MiB} MiB binding limit`;
  if (!prefixUnits(trace)) return null; // the router sees no units
  const at = traces.placeUnits(trace);
  if (at === null) return `its trace's prefix units do not fit in the trace buffer beside the traces and other lanes' data (binding limit)`;
  routerUnits[i] = at;
  return null;
}

/** Puts lane i's trace's prefix units in the trace buffer (units[i]: their word), or says why its caches cannot be on the GPU. */
function placePrefixUnits(lane: Lane, trace: Trace, traces: TraceBuffer, units: number[], i: number, maxBinding: number): string | null {
  if (!lane.prefixCache) return null;
  const bytes = 4 * lane.replicas * cacheRegionWords(lane.profile.kvBlocks);
  if (bytes > maxBinding) {
    return `its prefix caches take ${(bytes / MiB).toFixed(1)} MiB (${lane.replicas} replicas x ${lane.profile.kvBlocks} blocks), above the ${maxBinding / MiB} MiB binding limit`;
  }
  const at = traces.placeUnits(trace);
  if (at === null) return `its trace's prefix units do not fit in the trace buffer beside the traces and other lanes' data (binding limit)`;
  units[i] = at;
  return null;
}

const readsPredictions = (lane: Lane) => lane.scheduler.usesPrediction === true || lane.router.usesPrediction === true;

/** The lane's predicted output lengths, or null where the twins read the trace's own (state.wgsl trace_predicted). */
function lanePredictions(lane: Lane, trace: Trace): Uint32Array | null {
  if (!readsPredictions(lane) || lane.predictor === oracle) return null;
  return predictOutputs(trace, lane.predictor, lane.predictorParams, lane.seed);
}

/** Largest prompt, output, prompt + output and arrival of a trace, and of its predictions (cached per array). */
const maximaCache = new WeakMap<Trace, TraceMaxima>();
const predictedMaximaCache = new WeakMap<Uint32Array, Pick<TraceMaxima, 'predicted' | 'predictedWork'>>();
function laneMaxima(lane: Lane, t: Trace): TraceMaxima {
  let m = maximaCache.get(t);
  if (!m) {
    m = { prompt: 0, output: 0, work: 0, arrivalUs: 0, predicted: 0, predictedWork: 0 };
    for (let i = 0; i < t.arrivalUs.length; i++) {
      m.prompt = Math.max(m.prompt, t.promptTokens[i]);
      m.output = Math.max(m.output, t.outputTokens[i]);
      m.work = Math.max(m.work, t.promptTokens[i] + t.outputTokens[i]);
      m.arrivalUs = Math.max(m.arrivalUs, t.arrivalUs[i]);
    }
    m.predicted = m.output;
    m.predictedWork = m.work;
    maximaCache.set(t, m);
  }
  const predictions = lanePredictions(lane, t);
  if (!predictions) return m;
  let p = predictedMaximaCache.get(predictions);
  if (!p) {
    p = { predicted: 0, predictedWork: 0 };
    for (let i = 0; i < predictions.length; i++) {
      p.predicted = Math.max(p.predicted, predictions[i]);
      p.predictedWork = Math.max(p.predictedWork, t.promptTokens[i] + predictions[i]);
    }
    predictedMaximaCache.set(predictions, p);
  }
  return { ...m, ...p };
}

/**
 * The trace buffer: the distinct traces' rows (arrival lo, arrival hi, prompt, output), then each
 * distinct prediction array lanes read, one word per request. predictOutputs returns one array per
 * (length columns, predictor, parameters, seed when seeded), so lanes sharing those share its words.
 */
export class TraceBuffer {
  private readonly traces = new Map<Trace, { offset: number; problem: string | null }>();
  private readonly predictions = new Map<Uint32Array, number>();
  /** Per trace with prefix hashes: its request -> first chain id word table (n + 1 words), then its chain ids. */
  private readonly units = new Map<Trace, number>();
  /** Trace rows; prediction arrays follow at word 4 x rows. */
  readonly rows: number;
  private used: number;

  constructor(
    jobs: Job[],
    private readonly maxWords: number,
  ) {
    let rows = 0;
    for (const job of jobs) {
      if (this.traces.has(job.trace)) continue;
      this.traces.set(job.trace, { offset: rows, problem: traceProblem(job.trace) });
      rows += job.trace.arrivalUs.length;
    }
    this.rows = rows;
    this.used = 4 * rows;
  }

  offset(t: Trace): number {
    return this.traces.get(t)!.offset;
  }

  problem(t: Trace): string | null {
    return this.traces.get(t)!.problem;
  }

  /** The word where `predictions` start, adding them if the binding has room for them; null if not. */
  place(predictions: Uint32Array): number | null {
    let at = this.predictions.get(predictions);
    if (at === undefined) {
      if (this.used + predictions.length > this.maxWords) return null;
      at = this.used;
      this.predictions.set(predictions, at);
      this.used += predictions.length;
    }
    return at;
  }

  /** The word of `t`'s prefix-unit table (cache.wgsl reads it), adding it if the binding has room; null if not. */
  placeUnits(t: Trace): number | null {
    let at = this.units.get(t);
    if (at === undefined) {
      const u = prefixUnits(t)!;
      const words = u.offsets.length + u.chain.length;
      if (this.used + words > this.maxWords) return null;
      at = this.used;
      this.units.set(t, at);
      this.used += words;
    }
    return at;
  }

  words(): Uint32Array<ArrayBuffer> {
    const words = new Uint32Array(Math.max(4, this.used));
    for (const [t, { offset }] of this.traces) {
      for (let i = 0; i < t.arrivalUs.length; i++) {
        const w = 4 * (offset + i);
        words[w] = t.arrivalUs[i] % 2 ** 32;
        words[w + 1] = Math.floor(t.arrivalUs[i] / 2 ** 32);
        words[w + 2] = t.promptTokens[i];
        words[w + 3] = t.outputTokens[i];
      }
    }
    for (const [p, at] of this.predictions) words.set(p, at);
    for (const [t, at] of this.units) {
      const u = prefixUnits(t)!;
      const chains = at + u.offsets.length;
      for (let j = 0; j < u.offsets.length; j++) words[at + j] = chains + u.offsets[j];
      words.set(u.chain, chains);
    }
    return words;
  }
}

/** Puts lane i's predictions in the trace buffer (predicted[i]: their word), or says why they do not fit. */
function placePredictions(lane: Lane, trace: Trace, traces: TraceBuffer, predicted: number[], i: number): string | null {
  const predictions = lanePredictions(lane, trace);
  if (!predictions) return null;
  const at = traces.place(predictions);
  if (at === null) return `its ${predictions.length} predicted output lengths do not fit in the trace buffer beside the traces and other lanes' predictions (binding limit)`;
  predicted[i] = at;
  return null;
}

/** Why a trace cannot go to the GPU (arrivals not safe integers, token sums above u32), or null. */
function traceProblem(t: Trace): string | null {
  const n = t.arrivalUs.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isSafeInteger(t.arrivalUs[i]) || t.arrivalUs[i] < 0) return `trace arrival ${i} is not a non-negative integer below 2^53`;
    if (t.promptTokens[i] + t.outputTokens[i] > U32_MAX) return `trace row ${i}: prompt + output above 2^32-1`;
  }
  return null;
}

function laneInput(lane: Lane, trace: Trace, traceOffset: number, predicted: number, units: number, routerUnits: number): LaneInput {
  const requests = trace.arrivalUs.length;
  const p = lane.profile;
  const us = (ms: number) => Math.min(U32_MAX, Math.round(ms * 1000));
  const values: Record<Exclude<ParamName, 'MODEL' | 'SCHEDULER_PARAMS' | 'ROUTER_PARAMS' | 'PREFIX' | 'PREFIX_ROUTER'>, number> = {
    TRACE_OFFSET: traceOffset,
    TRACE_LENGTH: requests,
    REPLICAS: lane.replicas,
    SEED: lane.seed,
    KV_BLOCKS: p.kvBlocks,
    BLOCK_SIZE: p.blockSize,
    MAX_NUM_SEQS: p.maxNumSeqs,
    MAX_BATCHED_TOKENS: p.maxBatchedTokens,
    MAX_MODEL_LEN: p.maxModelLen,
    WATERMARK_BLOCKS: lane.watermarkBlocks,
    SLO_TTFT_US: us(lane.slo.ttftMs),
    SLO_TPOT_US: us(lane.slo.tpotMs),
    ROUTER: ROUTERS.indexOf(lane.router),
    SCHEDULER: ENGINE_SCHEDULERS.indexOf(lane.scheduler),
    BATCHING: BATCHING_NAMES.indexOf(lane.batching.name),
    PREDICTED: predicted,
  };
  const params = new Uint32Array(PARAMS.words);
  for (const [name, v] of Object.entries(values)) params[PARAMS.offset[name as ParamName]] = v;
  params.set(lane.scheduler.gpuParams?.(lane.schedulerParams) ?? [], PARAMS.offset.SCHEDULER_PARAMS);
  params.set(packModelWords(p.iterationNs), PARAMS.offset.MODEL);
  const routerWords = lane.router.gpuParams?.(lane.routerParams, p) ?? [];
  if (routerWords.length > 4 || routerWords.some((w) => !Number.isInteger(w) || w < 0 || w > U32_MAX)) {
    throw new Error(`router ${lane.router.name}: gpuParams must be at most 4 u32, got ${routerWords.join(', ')}`);
  }
  params.set(routerWords, PARAMS.offset.ROUTER_PARAMS);
  if (units !== NO_PREFIX_CACHE) {
    params.set([units, prefixUnits(trace)!.unitTokens, cacheTableSlots(p.kvBlocks) - 1, cacheRegionWords(p.kvBlocks)], PARAMS.offset.PREFIX);
  } else {
    params[PARAMS.offset.PREFIX] = NO_PREFIX_CACHE;
  }
  if (lane.router.usesPrefixes) {
    const capacity = routerUnits === NO_PREFIX_UNITS ? 0 : prefixRouterCapacity(lane, trace);
    const unitTokens = routerUnits === NO_PREFIX_UNITS ? 0 : prefixUnits(trace)!.unitTokens;
    const refreshUs = lane.router.refreshUs?.(lane.routerParams) ?? 0;
    // The router's memory follows the lane's prefix caches in its region of the cache binding.
    const base = lane.prefixCache ? lane.replicas * cacheRegionWords(p.kvBlocks) : 0;
    const indexWords = capacity > 0 ? prefixIndexWords(capacity) : 0;
    params.set([routerUnits, unitTokens, capacity, capacity > 0 ? cacheTableSlots(capacity) - 1 : 0, base, refreshUs, indexWords, 0], PARAMS.offset.PREFIX_ROUTER);
  } else {
    params[PARAMS.offset.PREFIX_ROUTER] = NO_PREFIX_UNITS;
  }
  return { params, requests, cacheWords: laneCacheWords(lane, trace) };
}

/** Lanes that share one pipeline: one shape, and the policies they use. */
interface LaneGroup {
  key: string;
  shape: PipelineShape;
  policies: PipelinePolicies;
  jobs: number[];
}

/**
 * Groups lanes into pipelines: by scheduler and replica slots (by router x scheduler too when
 * pipelinePerFamily), the routers and batchings of a group chosen per lane. Not one pipeline for
 * every scheduler: a shader's cold compile grows faster than its size (llvmpipe, one pipeline of
 * 1 / 3 / 6 / 10 schedulers: 8 / 20 / 50 / 307 s), and a kernel's registers are those of its
 * heaviest path, which every lane would pay. Within a group lanes are ordered by family, then by
 * expected work (longest first), so that a workgroup's lanes run the same code and finish together.
 */
function groupLanes(onGpu: number[], jobs: Job[], lanes: Lane[], base: PipelineShape, perFamily: boolean, software: boolean): LaneGroup[] {
  const groups = new Map<string, LaneGroup>();
  for (const i of onGpu) {
    const lane = lanes[i];
    const maxReplicas = replicaSlots(lane.replicas);
    // Only pipelines holding a caching lane compile the prefix cache in, and only those holding a
    // prefix router its index and snapshot.
    const caching = lane.prefixCache ? '|prefix-cache' : '';
    const prefixRouting = lane.router.usesPrefixes ? '|prefix-router' : '';
    const key = `${maxReplicas}|${lane.scheduler.name}${perFamily ? `|${lane.router.name}` : ''}${caching}${prefixRouting}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, shape: { ...base, maxReplicas, prefixCache: lane.prefixCache }, policies: { routers: [], schedulers: [], batchings: [] }, jobs: [] }));
    g.jobs.push(i);
  }
  const familyOrder = (i: number) => ROUTERS.indexOf(lanes[i].router) * 1000 + ENGINE_SCHEDULERS.indexOf(lanes[i].scheduler);
  const work = (i: number) => jobs[i].trace.arrivalUs.length;
  for (const g of groups.values()) {
    g.jobs.sort((a, b) => familyOrder(a) - familyOrder(b) || work(b) - work(a) || lanes[b].replicas - lanes[a].replicas || a - b);
    const names = (f: (l: Lane) => string) => [...new Set(g.jobs.map((i) => f(lanes[i])))];
    // In registry order, so that the same lanes' pipelines are the same WGSL in every run. On
    // software adapters (tests, CI; `--engine auto` runs the CPU there) cold compiles cost far
    // more than the views' run time: one variant per scheduler.
    const routers = perFamily ? names((l) => l.router.name) : pipelineRouters(names((l) => l.router.name), software);
    const batchings = BATCHING_NAMES.filter((b) => names((l) => l.batching.name).includes(b));
    g.policies = { routers, schedulers: names((l) => l.scheduler.name), batchings };
    g.shape.slotRecords = slotRecords(g.policies.schedulers, g.shape.prefixCache);
  }
  return [...groups.values()];
}

interface ChunkPlan {
  group: LaneGroup;
  jobs: number[];
  bytes: number;
  label: string;
}

/** Chunks of a group's lanes, sized so that no storage binding exceeds the device's limit. */
function planChunks(groups: LaneGroup[], jobs: Job[], lanes: Lane[], gpu: GpuDevice, opts: GpuRunOptions): ChunkPlan[] {
  const maxBinding = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const chunks: ChunkPlan[] = [];
  for (const g of groups) {
    const wg = g.shape.workgroupSize ?? WORKGROUP_SIZE;
    const st = laneStrides(g.shape);
    const cacheWords = Math.max(0, ...g.jobs.map((j) => laneCacheWords(lanes[j], jobs[j].trace)));
    const largest = Math.max(st.slots, st.hist, st.reps, st.ls, st.params, Math.ceil(cacheWords / 16) * 16) * 4;
    let cap = Math.floor(maxBinding / largest / wg) * wg;
    cap = Math.min(cap, opts.maxLanesPerChunk ?? (gpu.software ? 4096 : Infinity), gpu.limits.maxComputeWorkgroupsPerDimension * wg);
    if (cap < 1) cap = Math.floor(maxBinding / largest);
    if (cap < 1) throw new Error(`one lane needs ${largest} bytes in one binding, above the ${maxBinding} limit; lower slotCapacity`);
    for (let s = 0; s < g.jobs.length; s += cap) {
      const part = g.jobs.slice(s, s + cap);
      chunks.push({ group: g, jobs: part, bytes: part.length * (laneBytes(g.shape) + 4 * cacheWords), label: `engine[${g.key}]#${chunks.length}` });
    }
  }
  return chunks;
}

// Compiled pipelines by WGSL source, per device: a cold compile takes seconds on llvmpipe.
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

async function buildPipelines(device: GPUDevice, groups: LaneGroup[]): Promise<Map<LaneGroup, GPUComputePipeline>> {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  const { pipelineLayout } = engineLayouts(device);
  const built = await Promise.all(
    groups.map((g) => {
      const code = composeEngine(g.policies, g.shape);
      let p = cache.get(code);
      if (!p) {
        p = createComputePipeline(device, code, pipelineLayout, `engine[${g.key}]`);
        p.catch(() => cache.delete(code));
        cache.set(code, p);
      }
      return p;
    }),
  );
  return new Map(groups.map((g, k) => [g, built[k]]));
}

/**
 * One subgroup (warp) per workgroup on hardware adapters, between 32 and 64 invocations: at 4,096
 * lanes, 128 workgroups of 32 spread over every SM of an H100 (132) where 64 workgroups of 64 would
 * leave half of them idle; a lane is one invocation, so this is what fills the device.
 */
export function hardwareWorkgroupSize(gpu: Pick<GpuDevice, 'subgroupMaxSize'>): number {
  return gpu.subgroupMaxSize ? Math.min(64, Math.max(32, gpu.subgroupMaxSize)) : WORKGROUP_SIZE;
}

/** u32 lanes of a software adapter's SIMD groups, from its description (8 when it does not say). */
export function simdWidth(description: string): number {
  const bits = Number(/(\d+)[- ]bits/.exec(description)?.[1] ?? 256);
  return Math.max(1, Math.floor(bits / 32));
}
