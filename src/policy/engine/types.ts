import type { z } from 'zod';
import type { BatchContext } from './batching/types.js';

/** How a scheduler fills an iteration: the name of a batching strategy (src/policy/engine/batching/). */
export type Batching = 'prefill-first' | 'chunked' | 'prefill-priority' | 'arrival-pass';

/** What routers see of an arriving request. */
export interface RequestShape {
  index: number;
  promptTokens: number;
  outputTokens: number;
  /** The lane predictor's output length for this request (input preparation, docs/policies.md). */
  predictedOutputTokens: number;
  /**
   * Chain ids of the request's prefix units (src/sim/prefix-units.ts: one per `prefixUnitTokens`
   * prompt tokens; equal ids = equal prompts up to the end of that unit); empty when the trace has
   * no prefix hashes.
   */
  prefixUnits: ArrayLike<number>;
  prefixUnitTokens: number;
}

/**
 * Per-request integer state a policy may read, indexed by request (trace position). All fields are
 * u32 except arrivalUs (integer microseconds, u64 on the GPU). `words` holds the scheduler's own
 * per-request u32 fields: request j's are words[j * requestWords + w].
 */
export interface RequestTable {
  readonly promptTokens: ArrayLike<number>;
  /** The trace's output length: what the request will generate (policies may read it only as documented). */
  readonly outputTokens: ArrayLike<number>;
  readonly predicted: ArrayLike<number>;
  readonly arrivalUs: ArrayLike<number>;
  /** Tokens whose KV is stored. */
  readonly ctx: ArrayLike<number>;
  readonly generated: ArrayLike<number>;
  /** prompt + generated at (re)admission: the context at which the next token is produced. */
  readonly prefillTarget: ArrayLike<number>;
  readonly blocks: ArrayLike<number>;
  readonly words: Uint32Array;
  readonly requestWords: number;
}

/** A trace's largest values, for integer headroom checks. */
export interface TraceMaxima {
  prompt: number;
  output: number;
  /** prompt + output */
  work: number;
  arrivalUs: number;
  /** The lane predictor's largest output length, and prompt + predicted (the oracle's: output, work). */
  predicted: number;
  predictedWork: number;
}

/** Lane constants a scheduler's rules may depend on. */
export interface LaneConstants {
  blockSize: number;
  kvBlocks: number;
  maxModelLen: number;
  watermarkBlocks: number;
}

/** Admission control beyond the watermark: asked for each waiting request in order before it starts. */
export interface AdmissionRule {
  /** Called once per batch formation, after running requests got their steps and before any admission. */
  begin(ctx: BatchContext): void;
  /**
   * May waiting request j start now with a first step of `tokens` tokens? If so, charges it. With
   * `force` (a replica with no running request: no rule may leave it idle with work queued) it
   * charges and admits whatever it would have answered.
   */
  admit(ctx: BatchContext, j: number, tokens: number, force: boolean): boolean;
}

/**
 * The decisions a scheduler adds to its batching strategy. Every field has a default
 * (DEFAULT_RULES): vLLM's, under which the running list is in key order, the last running request
 * is the preemption victim and only the watermark gates admission.
 */
export interface SchedulerRules {
  /** Order of the running list: by (key, index) like the waiting queue, or by admission (appended). */
  runningOrder: 'key' | 'admission';
  /**
   * Victim choice when a step needs a KV block and none is free: a is strictly preferred to b as the
   * victim. The victim is the running request no other is strictly preferred to, the later in
   * running order on ties; it may be one already scheduled this iteration (its step is withdrawn).
   * null: the last request in running order.
   */
  preemptFirst: ((t: RequestTable, a: number, b: number) => boolean) | null;
  admission: AdmissionRule | null;
  /**
   * Proactive preemption at the start of an iteration: when the waiting head h cannot start (no
   * sequence slot or no blocks), may it displace running request r, the victim chosen as above?
   */
  displaces: ((t: RequestTable, h: number, r: number) => boolean) | null;
  /** Before an iteration in which every running request decodes (prefill-priority batching). */
  beforeDecode: ((ctx: BatchContext) => void) | null;
  /** Whether a pure-decode iteration may be fast-forwarded while requests wait (docs/semantics.md). */
  foldWithWaiting: boolean;
  /**
   * The order in which waiting requests are considered for admission, fixed when a batch formation
   * begins (e.g. SGLang's longest prefix match); null: (key, index) order. The waiting queue itself
   * stays in key order. A scheduler with one folds only while nothing waits.
   */
  admissionOrder: ((ctx: BatchContext) => number[]) | null;
  /** Sets request j's own words when it arrives (before its first key). */
  initRequest: ((t: RequestTable, j: number) => void) | null;
  /** Tokens request j may still generate before its key changes (a fold stops there); null: never. */
  tokensUntilRekey: ((t: RequestTable, j: number) => number) | null;
  /** After request j generated tokens at an iteration end: updates its words; true if its key changed. */
  rekeyAfterTokens: ((t: RequestTable, j: number) => boolean) | null;
  /** u32 fields per replica (`replicaWords` of the scheduler) at the start, after folded decode iterations, and when idle. */
  initReplica: ((words: Uint32Array) => void) | null;
  onFoldedDecodes: ((words: Uint32Array, iterations: number) => void) | null;
  onIdle: ((words: Uint32Array) => void) | null;
}

export const DEFAULT_RULES: SchedulerRules = {
  runningOrder: 'key',
  preemptFirst: null,
  admission: null,
  displaces: null,
  beforeDecode: null,
  foldWithWaiting: true,
  admissionOrder: null,
  initRequest: null,
  tokensUntilRekey: null,
  rekeyAfterTokens: null,
  initReplica: null,
  onFoldedDecodes: null,
  onIdle: null,
};

export interface SchedulerParams {
  watermarkPermille: number;
}

export interface EngineScheduler<P extends SchedulerParams = SchedulerParams> {
  name: string;
  summary: string;
  params: z.ZodType<P>;
  /** The batching strategy, fixed or chosen by a parameter. */
  batching(params: P): Batching;
  /**
   * Queue key, computed at explicit events only: arrival, re-insertion after preemption, and
   * re-keying (rekeyAfterTokens). A u64 (lower first; ties go to the lower request index) from
   * integer request fields, lane parameters and the event time; never changes with time otherwise.
   */
  key(t: RequestTable, j: number, nowUs: number, params: P): bigint;
  /** Rules beyond vLLM's defaults, bound to the lane's parameters. */
  rules?(params: P, lane: LaneConstants): Partial<SchedulerRules>;
  /** Reads the predictor's output lengths (docs/policies.md). */
  usesPrediction?: boolean;
  /** Parameter sets the GPU differential test draws from (src/sim/compare.ts), once the policy has a twin. */
  samples?: readonly Record<string, unknown>[];
  /** The parameters its WGSL twin reads, as u32 words (the shader's cfg.scheduler_params, at most 4). */
  gpuParams?(params: P): number[];
  /** Why its WGSL twin's integers could overflow on a trace with these largest values, or null (gpuEligibility). */
  gpuHeadroom?(params: P, trace: TraceMaxima): string | null;
  /** Own u32 fields per request and per replica. */
  requestWords?: number;
  replicaWords?: number;
}

export function schedulerRules<P extends SchedulerParams>(s: EngineScheduler<P>, params: P, lane: LaneConstants): SchedulerRules {
  return { ...DEFAULT_RULES, ...(s.rules?.(params, lane) ?? {}) };
}

export const ceilDiv = (a: number, b: number) => Math.floor((a + b - 1) / b);
