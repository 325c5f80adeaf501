// SGLang's cache-aware waiting order `lpm` (managers/schedule_policy.py: calc_priority,
// _sort_by_longest_prefix, _determine_active_policy), as an admission order (SchedulerRules).
import type { BatchContext } from './batching/types.js';

/**
 * Waiting requests by the prompt tokens cached on the replica, most first; ties keep the queue's
 * (key, index) order (a stable sort). With more than `maxWaiting` requests waiting, SGLang skips the
 * matching and sorting and serves them in queue order (FCFS). Requests with a short or no cached
 * prefix are passed over as long as better-cached ones keep arriving: the starvation lpm is known
 * for (counted as admittedOutOfOrder, visible in the queueing-delay tail).
 */
export function longestPrefixFirst(maxWaiting: number): (ctx: BatchContext) => number[] {
  return (ctx) => {
    const order = [...ctx.waiting];
    if (order.length > maxWaiting) return order;
    const cached = new Map<number, number>();
    for (const j of order) cached.set(j, ctx.cachedTokens(j));
    return order.sort((a, b) => cached.get(b)! - cached.get(a)!);
  };
}
