import type { Batching, RequestTable, SchedulerRules } from '../types.js';

/** A replica's limits as batching sees them. */
export interface BatchLimits {
  maxNumSeqs: number;
  maxBatchedTokens: number;
  blockSize: number;
  kvBlocks: number;
  /** KV blocks admission keeps free. */
  watermarkBlocks: number;
}

/**
 * What a batching strategy sees of one replica when an iteration starts, and the only changes it may
 * make: admit, schedule and preempt requests (queues and KV blocks change at once). It records no
 * metrics and schedules no events; the simulator applies the batch it leaves behind (iteration time,
 * token effects, fast-forward) and counts admissions and preemptions.
 */
export interface BatchContext {
  readonly limits: BatchLimits;
  readonly requests: RequestTable;
  readonly rules: SchedulerRules;
  /**
   * Waiting requests in the order admission considers them: by (key, index), or in the rules'
   * admissionOrder (fixed when the formation begins; a request preempted during it is appended).
   */
  readonly waiting: readonly number[];
  /** Running requests in the rules' running order. */
  readonly running: readonly number[];
  /** The scheduler's u32 fields of this replica. */
  readonly replicaWords: Uint32Array;
  /** Blocks no running request holds (cached blocks nobody holds count: they are evicted when needed). */
  freeBlocks(): number;
  /**
   * Free blocks request j's next step of `tokens` tokens takes. For a waiting request the step
   * starts after its cached prefix (cachedTokens) and also takes the cached blocks of that prefix
   * that no running request holds.
   */
  blocksToAdd(j: number, tokens: number): number;
  /**
   * Prompt tokens of waiting request j already cached on this replica (whole blocks): its first step
   * starts after them, so it has prefillTarget - cachedTokens tokens to prefill. 0 without prefix caching.
   */
  cachedTokens(j: number): number;
  /** Whether j already has a step in this iteration's batch. */
  scheduled(j: number): boolean;
  /** Steps in the batch so far. */
  batchLength(): number;
  /** Starts the waiting head j with a first step of `tokens` prompt tokens after its cached prefix (allocates its blocks). */
  admit(j: number, tokens: number): void;
  /** Gives running request j a step of `tokens` tokens: a decode (1) or a prompt chunk (allocates blocks). */
  schedule(j: number, tokens: number): void;
  /** Recompute-preempts running request j; returns the tokens of its step withdrawn from the batch (0 if none). */
  preempt(j: number): number;
}

export interface BatchingStrategy {
  name: Batching;
  summary: string;
  /** Prefills whole prompts only, so maxBatchedTokens must be at least maxModelLen (as vLLM requires). */
  wholePrompts: boolean;
  /** Fills the batch; true when the iteration is pure decode (every running request decodes, nothing admitted or preempted). */
  formBatch(ctx: BatchContext): boolean;
}
