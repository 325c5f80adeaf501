import type { Batching } from '../types.js';
import { arrivalPass } from './arrival-pass.js';
import { chunked } from './chunked.js';
import { prefillFirst } from './prefill-first.js';
import { prefillPriority } from './prefill-priority.js';
import type { BatchingStrategy } from './types.js';

export const BATCHING_STRATEGIES: readonly BatchingStrategy[] = [prefillFirst, chunked, prefillPriority, arrivalPass];
export const BATCHING_NAMES = BATCHING_STRATEGIES.map((b) => b.name);

export function batchingStrategy(name: Batching): BatchingStrategy {
  const found = BATCHING_STRATEGIES.find((b) => b.name === name);
  if (!found) throw new Error(`internal: unknown batching strategy "${name}"`);
  return found;
}
