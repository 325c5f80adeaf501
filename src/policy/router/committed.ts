import type { ClusterView } from './types.js';

/**
 * KV blocks replica r has committed: blocks in use plus the blocks its prompt tokens still to
 * prefill will take, ceil(queuedPrefillTokens / blockSize); plus `extraTokens` more (an arriving prompt).
 */
export function committedBlocks(view: ClusterView, r: number, extraTokens = 0): number {
  return view.usedBlocks[r] + Math.ceil((view.queuedPrefillTokens[r] + extraTokens) / view.blockSize);
}
