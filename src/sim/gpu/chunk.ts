// One chunk of lanes on the device: it owns the chunk's buffers and bind group, encodes its
// dispatches, reads its live-lane counter, and turns the read-back state into records.
import { BUCKETS } from '../../metrics/histogram.js';
import { COUNTERS, emptyRaw, HISTOGRAMS, type RawMetrics } from '../../metrics/record.js';
import { WORK_FIELDS } from '../job.js';
import { laneStrides, type PipelineShape } from './compose.js';
import { HIST_STAT_WORDS, LANE, PARAMS, STOP } from './layout.js';

/** What the host hands one lane: its parameter words (PARAMS order), its trace length, and the words of its prefix caches (0: caching off). */
export interface LaneInput {
  params: Uint32Array;
  requests: number;
  cacheWords: number;
}

/** Words per lane of a chunk's prefix-cache binding: its largest lane's, padded to 64 bytes (0 when no lane caches). */
export function cacheStride(inputs: readonly Pick<LaneInput, 'cacheWords'>[]): number {
  return Math.ceil(Math.max(0, ...inputs.map((i) => i.cacheWords)) / 16) * 16;
}

/** A lane's outcome: its record, or the stop code that sends it to the CPU. */
export type LaneOutcome = { status: typeof STOP.DONE.code; raw: RawMetrics; work?: number[] } | { status: number };

const bindGroupLayouts = new WeakMap<GPUDevice, { layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout }>();

/** The bind group layout every engine pipeline shares (one uniform, two read-only and six read-write storage buffers). */
export function engineLayouts(device: GPUDevice): { layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout } {
  let l = bindGroupLayouts.get(device);
  if (!l) {
    const layout = device.createBindGroupLayout({
      label: 'engine.bindGroupLayout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        ...[3, 4, 5, 6, 7, 8].map((binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' as const } })),
      ],
    });
    l = { layout, pipelineLayout: device.createPipelineLayout({ label: 'engine.pipelineLayout', bindGroupLayouts: [layout] }) };
    bindGroupLayouts.set(device, l);
  }
  return l;
}

export class ChunkRun {
  readonly lanes: number;
  private readonly buffers: GPUBuffer[] = [];
  private readonly state: GPUBuffer;
  private readonly hist: GPUBuffer;
  private readonly live: GPUBuffer;
  private readonly liveRead: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private readonly workgroups: number;

  constructor(
    private readonly device: GPUDevice,
    private readonly pipeline: GPUComputePipeline,
    traceBuffer: GPUBuffer,
    private readonly inputs: LaneInput[],
    private readonly shape: PipelineShape,
    steps: number,
    readonly label: string,
  ) {
    const L = (this.lanes = inputs.length);
    const params = new Uint32Array(PARAMS.words * L);
    // vec4 records, lane-minor: field f of lane l in record f >> 2 at (f >> 2) * L + l.
    inputs.forEach((input, l) => input.params.forEach((v, f) => (params[((f >> 2) * L + l) * 4 + (f & 3)] = v)));
    const storage = GPUBufferUsage.STORAGE;
    // Strides bound the words of either layout, so stride x lanes sizes both.
    const st = laneStrides(shape);
    const buffer = (name: string, words: number, usage: number) => {
      const b = device.createBuffer({ label: `${label}.${name}`, size: Math.max(16, words * 4), usage });
      this.buffers.push(b);
      return b;
    };
    const uniform = buffer('uniforms', 8, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const cacheWords = cacheStride(inputs);
    device.queue.writeBuffer(uniform, 0, new Uint32Array([L, steps, 0, cacheWords, shape.slots, st.slots / 4, shape.fastForward === false ? 0 : 1, 0]));
    const paramBuf = buffer('params', params.length, storage | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(paramBuf, 0, params);
    // WebGPU zero-fills new buffers: zero is the initial state of every lane, replica and slot.
    this.state = buffer('laneState', st.ls * L, storage | GPUBufferUsage.COPY_SRC);
    const reps = buffer('replicas', st.reps * L, storage);
    const slots = buffer('slots', st.slots * L, storage);
    this.hist = buffer('histograms', st.hist * L, storage | GPUBufferUsage.COPY_SRC);
    this.live = buffer('liveLanes', 4, storage | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.liveRead = buffer('liveLanesRead', 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    // Zero-filled: every replica's prefix cache starts empty (cache.wgsl).
    const prefixCaches = buffer('prefixCaches', cacheWords * L, storage);
    this.bindGroup = device.createBindGroup({
      label: `${label}.bindGroup`,
      layout: engineLayouts(device).layout,
      entries: [uniform, paramBuf, traceBuffer, this.state, reps, slots, this.hist, this.live, prefixCaches].map((b, binding) => ({ binding, resource: { buffer: b } })),
    });
    this.workgroups = Math.ceil(L / (shape.workgroupSize ?? 64));
  }

  /** `dispatches` dispatches of U.steps instants; the live counter counts lanes still running after the last. */
  encode(enc: GPUCommandEncoder, dispatches: number): void {
    if (dispatches > 1) {
      const pass = enc.beginComputePass({ label: `${this.label}.steps` });
      pass.setPipeline(this.pipeline);
      pass.setBindGroup(0, this.bindGroup);
      for (let d = 0; d < dispatches - 1; d++) pass.dispatchWorkgroups(this.workgroups);
      pass.end();
    }
    enc.clearBuffer(this.live);
    const pass = enc.beginComputePass({ label: `${this.label}.lastStep` });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(this.workgroups);
    pass.end();
    enc.copyBufferToBuffer(this.live, 0, this.liveRead, 0, 4);
  }

  /** Lanes still running after the last submitted encode(). */
  async readLive(): Promise<number> {
    await this.liveRead.mapAsync(GPUMapMode.READ);
    const n = new Uint32Array(this.liveRead.getMappedRange())[0];
    this.liveRead.unmap();
    return n;
  }

  /** Lanes (chunk positions) still running after the last submitted work. */
  async liveLanes(): Promise<number[]> {
    const L = this.lanes;
    const st = laneStrides(this.shape);
    const ls = await this.read(this.state);
    const statusAt = (l: number) => (this.shape.laneMajor ? l * st.ls : l * 4) + LANE.offset.STATUS;
    const live: number[] = [];
    for (let l = 0; l < L; l++) if (ls[statusAt(l)] === 0) live.push(l);
    return live;
  }

  /** Every lane's outcome; frees the chunk's buffers. */
  async collect(): Promise<LaneOutcome[]> {
    const L = this.lanes;
    const st = laneStrides(this.shape);
    const laneMajor = this.shape.laneMajor;
    // Lane state is vec4 records (lane-minor: record-interleaved), histograms u32 words.
    const lsAt = (l: number, w: number) => (laneMajor ? l * st.ls + w : ((w >> 2) * L + l) * 4 + (w & 3));
    const histAt = (l: number, w: number) => (laneMajor ? l * st.hist + w : w * L + l);
    const ls = await this.read(this.state);
    const hist = await this.read(this.hist);
    this.destroy();
    return this.inputs.map((input, l) => {
      const word = (w: number) => ls[lsAt(l, w)];
      const status = word(LANE.offset.STATUS);
      if (status !== STOP.DONE.code) return { status };
      const u64 = (w: number) => word(w) + word(w + 1) * 2 ** 32;
      const raw = emptyRaw();
      COUNTERS.forEach((name, c) => {
        raw[name] = name === 'requests' ? input.requests : u64(LANE.offset.CNT + 2 * c);
      });
      HISTOGRAMS.forEach((name, h) => {
        const out = raw.hist[name];
        const w = LANE.offset.HIST + (HIST_STAT_WORDS * h);
        out.count = u64(w);
        out.sum = u64(w + 2);
        out.max = word(w + 4);
        const base = h * BUCKETS;
        for (let b = 0; b < BUCKETS; b++) out.counts[b] = hist[histAt(l, base + b)];
      });
      const outcome: LaneOutcome = { status, raw };
      if (this.shape.workCounters) outcome.work = WORK_FIELDS.map((_, c) => u64(LANE.offset.WORK + 2 * c));
      return outcome;
    });
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
  }

  private async read(src: GPUBuffer): Promise<Uint32Array> {
    const dst = this.device.createBuffer({ label: `${src.label}.read`, size: src.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder({ label: `${src.label}.readback` });
    enc.copyBufferToBuffer(src, 0, dst, 0, src.size);
    this.device.queue.submit([enc.finish()]);
    await dst.mapAsync(GPUMapMode.READ);
    const out = new Uint32Array(dst.getMappedRange().slice(0));
    dst.unmap();
    dst.destroy();
    return out;
  }
}
