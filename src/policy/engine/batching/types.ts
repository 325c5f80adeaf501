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
  /** Waiting requests by (key, index). */
  readonly waiting: readonly number[];
  /** Running requests in the rules' running order. */
  readonly running: readonly number[];
  /** The scheduler's u32 fields of this replica. */
  readonly replicaWords: Uint32Array;
  freeBlocks(): number;
  /** Blocks request j must add to process `tokens` more tokens. */
  blocksToAdd(j: number, tokens: number): number;
  /** Whether j already has a step in this iteration's batch. */
  scheduled(j: number): boolean;
  /** Steps in the batch so far. */
  batchLength(): number;
  /** Starts the waiting head j with a first step of `tokens` prompt tokens (allocates its blocks). */
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
