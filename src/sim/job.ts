// A job: one lane spec over one prepared trace. Engines run batches of jobs.
import type { RawMetrics } from '../metrics/record.js';
import type { Trace } from '../trace/trace.js';
import type { LaneSpec } from './lane.js';

export interface Job {
  /** Already windowed and rate-scaled; jobs that share a trace object share it on the GPU too. */
  trace: Trace;
  spec: LaneSpec;
}

export type EngineChoice = 'auto' | 'gpu' | 'cpu';

export interface JobResult {
  raw: RawMetrics;
  /** Which engine produced this record. */
  engine: 'cpu' | 'gpu';
  /** Why a lane meant for the GPU ran on the CPU instead (slot table or u32 clock overflow). */
  fallback?: string;
  /** What the lane did on the GPU, when the engine ran with work counters (WORK_FIELDS order). */
  work?: number[];
}

/** The GPU engine's per-lane work counters (`schedlab bench --work`), in shader order. */
export const WORK_FIELDS = ['instants', 'storageLoads', 'storageStores', 'visits', 'loopIterations', 'foldIterations'] as const;

export interface BackendInfo {
  engine: 'cpu' | 'gpu';
  /** e.g. "vulkan: NVIDIA H100", "opengles: llvmpipe (Mesa 22.3.6)", "cpu: 2 worker threads". */
  description: string;
  /** Why auto did not pick the GPU, when it did not. */
  note?: string;
}

export interface RunOptions {
  engine?: EngineChoice;
  /** CPU worker threads (default: all cores). */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}
