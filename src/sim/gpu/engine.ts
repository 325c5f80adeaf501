// Host side of the GPU engine: groups lanes by policy family, uploads traces and per-lane
// parameters, loops dispatches (the event loop runs inside the shader, `steps` instants per
// dispatch), polls a one-word live-lane counter once per submit, and turns the read-back state into
// RawMetrics. Lanes the shader cannot run exactly (limits below) are re-run on the CPU reference.
import { BUCKETS } from '../../metrics/histogram.js';
import { COUNTERS, emptyRaw, HISTOGRAMS, type RawMetrics } from '../../metrics/record.js';
import type { Trace } from '../../trace/trace.js';
import { defaultThreads, runCpuJobs } from '../cpu/pool.js';
import { WORK_FIELDS, type BackendInfo, type Job, type JobResult } from '../job.js';
import { resolveLane, type Lane } from '../lane.js';
import { packModelWords } from '../../model/iteration.js';
import { composeEngine, HIST_WORDS, laneStrides, PARAM_FIELDS, replicaSlots, RES_CAP, WORKGROUP_SIZE } from './compose.js';
import { createComputePipeline, deviceLostMessage, requireDevice } from './device.js';

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
  /** Cap on lanes per chunk (default: as many as the 128 MiB binding limit allows, at most 4096). */
  maxLanesPerChunk?: number;
  /** CPU threads for fallback lanes (default: all cores). */
  threads?: number;
  /** Invocations per workgroup (default: the SIMD width on a software adapter, 64 elsewhere). */
  workgroupSize?: number;
  /** Fast-forward decode runs in the shader (default true; results are identical either way). */
  fastForward?: boolean;
  /** State layout (default: lane-major on a software adapter, lane-minor elsewhere; see engine.wgsl ix()). */
  laneMajor?: boolean;
  /**
   * Work within a software adapter's loop limiter (default: on software adapters). Off there, lanes
   * run the hardware code path (no split events) and any lane that hits the limiter falls back.
   */
  loopLimited?: boolean;
  /** Count each lane's work in the shader (JobResult.work) and submits/dispatches on the host. */
  workCounters?: boolean;
}

/** Host-side work of one GPU run: command submissions and dispatches. */
export interface HostWork {
  submits: number;
  dispatches: number;
}

// Lane-state words; must match shaders/engine.wgsl.
const LS_STATUS = 0;
const LS_CNT = 5;
const LS_H = 31;
const LS_WORK = 63;
const U32_MAX = 0xffffffff;
const MiB = 1024 * 1024;
/** Device memory one wave of chunks may hold at once. */
const WAVE_BYTES = 1536 * MiB;

const ST_SLOTS = 2;
const STOP_REASONS: Record<number, string> = {
  [ST_SLOTS]: 'slot table full (more requests in flight than the GPU slot capacity)',
  3: 'a time span above 2^32-1 µs (71.6 min)',
  4: 'internal: a replica with work scheduled nothing',
  5: "one event needed more loop iterations than the software adapter's per-invocation limit (65535)",
  6: 'a request in flight for over 2^30 µs (17.9 min) when the GPU clock origin had to move',
};

interface Chunk {
  family: string;
  jobs: number[]; // job indices, lane order
  maxReplicas: number;
  buffers: GPUBuffer[];
  lanesBuf?: GPUBuffer;
  liveBuf?: GPUBuffer;
  liveRead?: GPUBuffer;
  lsBuf?: GPUBuffer;
  histBuf?: GPUBuffer;
  bindGroup?: GPUBindGroup;
  bytes: number;
}

export async function runGpuJobs(jobs: Job[], opts: GpuRunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo; hostWork: HostWork }> {
  const gpu = await requireDevice();
  const device = gpu.device;
  const slotCap = opts.slotCapacity ?? 1024;
  const steps = opts.stepsPerDispatch ?? 64;
  if (!Number.isInteger(slotCap) || slotCap < 1) throw new Error(`slotCapacity must be a positive integer, got ${slotCap}`);
  const software = gpu.software;
  // llvmpipe runs a workgroup in SIMD groups of its vector width ("llvmpipe-...-256-bits" on GL ES,
  // "llvmpipe (LLVM 15.0.6, 256 bits)" as lavapipe: 8 u32), whose lanes share one loop limiter; one
  // SIMD group per workgroup keeps workgroups small.
  const simd = software ? simdWidth(gpu.description) : 1;
  const wg = opts.workgroupSize ?? (software ? simd : WORKGROUP_SIZE);
  const laneMajor = opts.laneMajor ?? software;
  const lanes: Lane[] = jobs.map((j) => resolveLane(j.spec));
  const results: JobResult[] = new Array(jobs.length);
  const fallback = new Map<number, string>();

  // Distinct traces, concatenated once; jobs that share a Trace object share its rows.
  const traceOffsets = new Map<Trace, { offset: number; problem: string | null }>();
  let totalRows = 0;
  for (const job of jobs) {
    if (traceOffsets.has(job.trace)) continue;
    traceOffsets.set(job.trace, { offset: totalRows, problem: traceProblem(job.trace) });
    totalRows += job.trace.arrivalUs.length;
  }
  // (arrival lo, arrival hi, prompt, output): arrivals are u64 microseconds.
  const traceWords = new Uint32Array(Math.max(4, 4 * totalRows));
  for (const [t, { offset }] of traceOffsets) {
    for (let i = 0; i < t.arrivalUs.length; i++) {
      const w = 4 * (offset + i);
      traceWords[w] = t.arrivalUs[i] % 2 ** 32;
      traceWords[w + 1] = Math.floor(t.arrivalUs[i] / 2 ** 32);
      traceWords[w + 2] = t.promptTokens[i];
      traceWords[w + 3] = t.outputTokens[i];
    }
  }
  const maxBinding = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize, 128 * MiB);
  if (traceWords.byteLength > maxBinding) throw new Error(`traces hold ${totalRows} rows, above the ${maxBinding / MiB} MiB binding limit`);

  // Lanes the shader cannot run exactly go to the CPU reference.
  const families = new Map<string, number[]>();
  jobs.forEach((job, i) => {
    const lane = lanes[i];
    const reason =
      traceOffsets.get(job.trace)!.problem ??
      (lane.profile.blockSize > RES_CAP ? `blockSize ${lane.profile.blockSize} above the GPU engine's ${RES_CAP}` : null) ??
      (lane.profile.kvBlocks > 2 ** 31 ? `kvBlocks ${lane.profile.kvBlocks} above 2^31` : null) ??
      // The iteration model's context sums are u32 (iteration.wgsl).
      (lane.profile.kvBlocks * lane.profile.blockSize >= 2 ** 32 ? `KV tokens ${lane.profile.kvBlocks * lane.profile.blockSize} above 2^32-1` : null);
    if (reason) {
      fallback.set(i, reason);
      return;
    }
    const key = `${lane.router.name}|${lane.scheduler.name}`;
    let list = families.get(key);
    if (!list) families.set(key, (list = []));
    list.push(i);
  });

  // Chunks: lanes of one family, sized so no binding exceeds the limit; longest work first.
  const chunks: Chunk[] = [];
  for (const [family, idx] of families) {
    const maxReplicas = replicaSlots(Math.max(...idx.map((i) => lanes[i].replicas)));
    const st = laneStrides({ maxReplicas, slots: slotCap });
    const perLane = Math.max(st.slots, st.hist, st.reps, st.ls, PARAM_FIELDS) * 4;
    let cap = Math.floor(maxBinding / perLane / wg) * wg;
    cap = Math.min(cap, opts.maxLanesPerChunk ?? 4096, gpu.limits.maxComputeWorkgroupsPerDimension * wg);
    if (cap < 1) cap = Math.max(1, Math.floor(maxBinding / perLane));
    if (cap < 1) throw new Error(`one lane needs ${perLane} bytes per binding, above the ${maxBinding} limit; lower slotCapacity`);
    const work = (i: number) => jobs[i].trace.arrivalUs.length;
    idx.sort((a, b) => work(b) - work(a) || lanes[b].replicas - lanes[a].replicas || a - b);
    for (let s = 0; s < idx.length; s += cap) {
      const part = idx.slice(s, s + cap);
      const bytes = part.length * 4 * (st.slots + st.hist + st.reps + st.ls + PARAM_FIELDS);
      chunks.push({ family, jobs: part, maxReplicas, buffers: [], bytes });
    }
  }

  const { layout, pipelineLayout } = engineLayouts(device);
  // One pipeline per family, sized for the family's largest replica count (rounded: replicaSlots).
  const pipelines = new Map<string, GPUComputePipeline>();
  await Promise.all(
    [...families.keys()].map(async (family) => {
      const [router, scheduler] = family.split('|');
      const maxReplicas = Math.max(...chunks.filter((c) => c.family === family).map((c) => c.maxReplicas));
      for (const c of chunks) if (c.family === family) c.maxReplicas = maxReplicas;
      const code = composeEngine(router, scheduler, { maxReplicas, slots: slotCap, workgroupSize: wg, fastForward: opts.fastForward, laneMajor, loopLimited: opts.loopLimited ?? software, loopProbe: software, simdLanes: simd, workCounters: opts.workCounters });
      pipelines.set(family, await getPipeline(device, code, pipelineLayout, `engine[${family}]`));
    }),
  );

  const tRun = performance.now();
  if (process.env.SCHEDLAB_GPU_DEBUG) console.error(`pipelines ready ${performance.now().toFixed(0)} ms`);
  const traceBuf = makeBuffer(device, traceWords, GPUBufferUsage.STORAGE);
  const total = jobs.length;
  let done = fallback.size;
  opts.onProgress?.(done, total);
  const hostWork: HostWork = { submits: 0, dispatches: 0 };

  // Waves of chunks bounded by device memory; all chunks of a wave share each submit.
  let c0 = 0;
  while (c0 < chunks.length) {
    let c1 = c0;
    let bytes = 0;
    while (c1 < chunks.length && (c1 === c0 || bytes + chunks[c1].bytes <= WAVE_BYTES)) bytes += chunks[c1++].bytes;
    const wave = chunks.slice(c0, c1);
    c0 = c1;
    for (const c of wave) setupChunk(device, c, layout, traceBuf, jobs, lanes, traceOffsets, slotCap, steps);
    let active = wave.slice();
    let dispatches = 2;
    while (active.length > 0) {
      const t0 = performance.now();
      const enc = device.createCommandEncoder();
      for (const c of active) {
        const pipeline = pipelines.get(c.family)!;
        const groups = Math.ceil(c.jobs.length / wg);
        if (dispatches > 1) {
          const pass = enc.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, c.bindGroup!);
          for (let d = 0; d < dispatches - 1; d++) pass.dispatchWorkgroups(groups);
          pass.end();
        }
        // The live counter counts lanes still running after the last dispatch only.
        enc.clearBuffer(c.liveBuf!);
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, c.bindGroup!);
        pass.dispatchWorkgroups(groups);
        pass.end();
        enc.copyBufferToBuffer(c.liveBuf!, 0, c.liveRead!, 0, 4);
      }
      device.queue.submit([enc.finish()]);
      hostWork.submits++;
      hostWork.dispatches += dispatches * active.length;
      const liveCounts = await Promise.all(
        active.map(async (c) => {
          await c.liveRead!.mapAsync(GPUMapMode.READ);
          const n = new Uint32Array(c.liveRead!.getMappedRange())[0];
          c.liveRead!.unmap();
          return n;
        }),
      );
      const lost = deviceLostMessage();
      if (lost) throw new Error(`${lost} (while running ${active.length} chunk(s), ${steps} steps x ${dispatches} dispatches)`);
      const finished = active.filter((_, k) => liveCounts[k] === 0);
      active = active.filter((_, k) => liveCounts[k] !== 0);
      for (const c of finished) {
        await collectChunk(device, c, jobs, results, fallback, laneMajor, slotCap, opts.workCounters === true);
        done += c.jobs.length;
      }
      const liveNow = liveCounts.reduce((a, b) => a + b, 0);
      opts.onProgress?.(done + active.reduce((a, c) => a + c.jobs.length, 0) - liveNow, total);
      // Aim for submits of 50..400 ms: long enough to hide the readback, short of any watchdog.
      const ms = performance.now() - t0;
      if (process.env.SCHEDLAB_GPU_DEBUG) console.error(`submit: ${active.length + finished.length} chunks x ${dispatches} dispatches, live ${liveNow}, ${ms.toFixed(0)} ms`);
      if (ms < 50 && dispatches < 256) dispatches *= 2;
      else if (ms > 400 && dispatches > 1) dispatches = Math.max(1, dispatches >> 1);
    }
  }
  traceBuf.destroy();
  if (process.env.SCHEDLAB_GPU_DEBUG) console.error(`engine loop ${(performance.now() - tRun).toFixed(0)} ms`);

  // Overloaded lanes keep their queues on the GPU with a larger slot table: on a hardware GPU a few
  // percent of lanes falling back to the CPU could take longer than all the others together.
  const retryCap = opts.retrySlotCapacity ?? (software ? 0 : 16 * slotCap);
  const overflowed = [...fallback].filter(([, why]) => why === STOP_REASONS[ST_SLOTS]).map(([i]) => i);
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
      opts.threads ?? defaultThreads(),
    );
    idx.forEach((i, k) => {
      results[i] = { ...cpu[k], fallback: fallback.get(i) };
    });
  }
  opts.onProgress?.(total, total);
  return { results, backend: { engine: 'gpu', description: gpu.description }, hostWork };
}

// Compiled pipelines by WGSL source, per device: a cold compile takes seconds on llvmpipe.
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();
const layoutCache = new WeakMap<GPUDevice, { layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout }>();

function engineLayouts(device: GPUDevice): { layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout } {
  let l = layoutCache.get(device);
  if (!l) {
    const layout = device.createBindGroupLayout({
      label: 'schedlab engine',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        ...[3, 4, 5, 6, 7].map((binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' as const } })),
      ],
    });
    l = { layout, pipelineLayout: device.createPipelineLayout({ bindGroupLayouts: [layout] }) };
    layoutCache.set(device, l);
  }
  return l;
}

function getPipeline(device: GPUDevice, code: string, layout: GPUPipelineLayout, label: string): Promise<GPUComputePipeline> {
  let m = pipelineCache.get(device);
  if (!m) pipelineCache.set(device, (m = new Map()));
  let p = m.get(code);
  if (!p) {
    p = createComputePipeline(device, code, layout, label);
    p.catch(() => m.delete(code));
    m.set(code, p);
  }
  return p;
}

/** u32 lanes of a software adapter's SIMD groups, from its description (8 when it does not say). */
export function simdWidth(description: string): number {
  const bits = Number(/(\d+)[- ]bits/.exec(description)?.[1] ?? 256);
  return Math.max(1, Math.floor(bits / 32));
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

function makeBuffer(device: GPUDevice, data: Uint32Array<ArrayBuffer>, usage: number): GPUBuffer {
  const buf = device.createBuffer({ size: Math.max(16, data.byteLength), usage: usage | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

function setupChunk(
  device: GPUDevice,
  c: Chunk,
  layout: GPUBindGroupLayout,
  traceBuf: GPUBuffer,
  jobs: Job[],
  lanes: Lane[],
  traceOffsets: Map<Trace, { offset: number }>,
  slotCap: number,
  steps: number,
): void {
  const L = c.jobs.length;
  const params = new Uint32Array(PARAM_FIELDS * L);
  c.jobs.forEach((j, l) => {
    const lane = lanes[j];
    const p = lane.profile;
    const us = (ms: number) => Math.min(U32_MAX, Math.round(ms * 1000));
    const values = [
      traceOffsets.get(jobs[j].trace)!.offset,
      jobs[j].trace.arrivalUs.length,
      lane.replicas,
      lane.seed,
      p.kvBlocks,
      p.blockSize,
      p.maxNumSeqs,
      p.maxBatchedTokens,
      p.maxModelLen,
      lane.watermarkBlocks,
      us(lane.slo.ttftMs),
      us(lane.slo.tpotMs),
      ...packModelWords(p.iterationNs),
    ];
    values.forEach((v, f) => (params[f * L + l] = v));
  });
  const storage = GPUBufferUsage.STORAGE;
  const size = (words: number) => Math.max(16, words * 4);
  // Strides bound the words of either layout, so stride x lanes sizes both.
  const st = laneStrides({ maxReplicas: c.maxReplicas, slots: slotCap });
  const uniform = makeBuffer(device, new Uint32Array([L, steps, 0, 0]), GPUBufferUsage.UNIFORM);
  const paramBuf = makeBuffer(device, params, storage);
  // WebGPU zero-fills new buffers: zero is the initial state of every lane, replica and slot.
  const lsBuf = device.createBuffer({ size: size(st.ls * L), usage: storage | GPUBufferUsage.COPY_SRC });
  const repBuf = device.createBuffer({ size: size(st.reps * L), usage: storage });
  const slotBuf = device.createBuffer({ size: size(st.slots * L), usage: storage });
  const histBuf = device.createBuffer({ size: size(st.hist * L), usage: storage | GPUBufferUsage.COPY_SRC });
  const liveBuf = device.createBuffer({ size: 16, usage: storage | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const liveRead = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  c.buffers = [uniform, paramBuf, lsBuf, repBuf, slotBuf, histBuf, liveBuf, liveRead];
  c.lsBuf = lsBuf;
  c.histBuf = histBuf;
  c.liveBuf = liveBuf;
  c.liveRead = liveRead;
  c.bindGroup = device.createBindGroup({
    layout,
    entries: [uniform, paramBuf, traceBuf, lsBuf, repBuf, slotBuf, histBuf, liveBuf].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}

async function readBuffer(device: GPUDevice, src: GPUBuffer): Promise<Uint32Array> {
  const dst = device.createBuffer({ size: src.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, dst, 0, src.size);
  device.queue.submit([enc.finish()]);
  await dst.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(dst.getMappedRange().slice(0));
  dst.unmap();
  dst.destroy();
  return out;
}

async function collectChunk(
  device: GPUDevice,
  c: Chunk,
  jobs: Job[],
  results: JobResult[],
  fallback: Map<number, string>,
  laneMajor: boolean,
  slotCap: number,
  workCounters: boolean,
): Promise<void> {
  const L = c.jobs.length;
  const st = laneStrides({ maxReplicas: c.maxReplicas, slots: slotCap });
  const at = (stride: number) => (l: number, w: number) => (laneMajor ? l * stride + w : w * L + l);
  const ls = await readBuffer(device, c.lsBuf!);
  const hist = await readBuffer(device, c.histBuf!);
  for (const b of c.buffers) b.destroy();
  c.buffers = [];
  c.jobs.forEach((j, l) => {
    const status = ls[at(st.ls)(l, LS_STATUS)];
    if (status !== 1) {
      fallback.set(j, STOP_REASONS[status] ?? `unknown GPU lane status ${status}`);
      return;
    }
    const lsAt = (w: number) => ls[at(st.ls)(l, w)];
    results[j] = { raw: toRaw(ls, hist, (w) => at(st.ls)(l, w), (w) => at(st.hist)(l, w), jobs[j].trace.arrivalUs.length), engine: 'gpu' };
    if (workCounters) results[j].work = WORK_FIELDS.map((_, c) => lsAt(LS_WORK + 2 * c) + lsAt(LS_WORK + 2 * c + 1) * 2 ** 32);
  });
}

function toRaw(ls: Uint32Array, hist: Uint32Array, lsAt: (w: number) => number, histAt: (w: number) => number, requests: number): RawMetrics {
  const raw = emptyRaw();
  const word = (w: number) => ls[lsAt(w)];
  const u64 = (w: number) => word(w) + word(w + 1) * 2 ** 32;
  COUNTERS.forEach((name, c) => {
    if (name === 'requests') raw.requests = requests;
    else raw[name] = u64(LS_CNT + 2 * c);
  });
  HISTOGRAMS.forEach((name, h) => {
    const out = raw.hist[name];
    const w = LS_H + 5 * h;
    out.count = u64(w);
    out.sum = u64(w + 2);
    out.max = word(w + 4);
    const base = h * BUCKETS;
    for (let b = 0; b < BUCKETS; b++) out.counts[b] = hist[histAt(base + b)];
  });
  return raw;
}
