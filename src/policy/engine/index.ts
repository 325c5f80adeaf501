import { ConfigError } from '../../model/profile.js';
import { batchingStrategy } from './batching/index.js';
import type { BatchingStrategy } from './batching/types.js';
import { chunkedPrefill } from './chunked-prefill.js';
import { larry } from './larry.js';
import { mlfq } from './mlfq.js';
import { sglang } from './sglang.js';
import { sjf } from './sjf.js';
import { srpt } from './srpt.js';
import { trtllmGuaranteedNoEvict } from './trtllm-guaranteed-no-evict.js';
import { trtllmMaxUtilization } from './trtllm-max-utilization.js';
import type { EngineScheduler } from './types.js';
import { vllmFcfs } from './vllm-fcfs.js';
import { vllmPriority } from './vllm-priority.js';

export const ENGINE_SCHEDULERS: readonly EngineScheduler<any>[] = [
  vllmFcfs,
  chunkedPrefill,
  sjf,
  vllmPriority,
  trtllmGuaranteedNoEvict,
  trtllmMaxUtilization,
  sglang,
  larry,
  srpt,
  mlfq,
];
export const SCHEDULER_NAMES = ENGINE_SCHEDULERS.map((s) => s.name);

export function engineScheduler(name: string): EngineScheduler<any> {
  const found = ENGINE_SCHEDULERS.find((s) => s.name === name);
  if (!found) throw new ConfigError(`unknown scheduler "${name}"; valid: ${SCHEDULER_NAMES.join(', ')}`);
  return found;
}

/** The batching strategy of a scheduler with its default parameters. */
export function defaultBatching(name: string): BatchingStrategy {
  const s = engineScheduler(name);
  return batchingStrategy(s.batching(s.params.parse({})));
}
