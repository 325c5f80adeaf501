import { ConfigError } from '../../model/profile.js';
import { chunkedPrefill } from './chunked-prefill.js';
import { sjf } from './sjf.js';
import type { EngineScheduler } from './types.js';
import { vllmFcfs } from './vllm-fcfs.js';

export const ENGINE_SCHEDULERS: readonly EngineScheduler[] = [vllmFcfs, chunkedPrefill, sjf];
export const SCHEDULER_NAMES = ENGINE_SCHEDULERS.map((s) => s.name);

export function engineScheduler(name: string): EngineScheduler {
  const found = ENGINE_SCHEDULERS.find((s) => s.name === name);
  if (!found) throw new ConfigError(`unknown scheduler "${name}"; valid: ${SCHEDULER_NAMES.join(', ')}`);
  return found;
}
