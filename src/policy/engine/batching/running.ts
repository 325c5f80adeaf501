// The steps every strategy shares: choosing a victim, giving running requests their steps in order
// with preemption when a block is missing, and proactive preemption for a waiting request.
import type { BatchContext } from './types.js';

/** Position in ctx.running of the preemption victim (docs/semantics.md, "Preemption"). */
export function victimPosition(ctx: BatchContext): number {
  const { running, rules, requests } = ctx;
  const prefer = rules.preemptFirst;
  if (prefer === null) return running.length - 1;
  let best = 0;
  for (let p = 1; p < running.length; p++) {
    if (!prefer(requests, running[best], running[p])) best = p;
  }
  return best;
}

export interface RunningOutcome {
  /** A request was preempted for lack of a block. */
  preempted: boolean;
  budgetLeft: number;
  /** Every scheduled running request decodes (none is still prefilling). */
  allDecodes: boolean;
}

/**
 * Running requests in order each get their next step (a decode token, or the next prompt chunk
 * within `budget`). A step that needs a KV block when none is free preempts the victim, possibly
 * one already scheduled (its tokens return to the budget) or the request itself, after which the
 * pass goes on with the next request (vLLM ends its pass there; under its FCFS rule the request is
 * the last one, so the two agree, and under other rules this never leaves an iteration empty).
 */
export function scheduleRunning(ctx: BatchContext, budget: number): RunningOutcome {
  const t = ctx.requests;
  const running = ctx.running;
  let preempted = false;
  let allDecodes = true;
  let i = 0;
  while (i < running.length && budget > 0) {
    const j = running[i];
    const inPrefill = t.ctx[j] < t.prefillTarget[j];
    const tokens = inPrefill ? Math.min(t.prefillTarget[j] - t.ctx[j], budget) : 1;
    const need = ctx.blocksToAdd(j, tokens);
    let self = false;
    while (ctx.freeBlocks() < need) {
      const p = victimPosition(ctx);
      preempted = true;
      if (p === i) {
        ctx.preempt(j);
        self = true;
        break;
      }
      budget += ctx.preempt(running[p]);
      if (p < i) i--;
    }
    if (self) continue; // the next request now sits at position i
    ctx.schedule(j, tokens);
    if (inPrefill) allDecodes = false;
    budget -= tokens;
    i++;
  }
  return { preempted, budgetLeft: budget, allDecodes };
}

/**
 * Proactive preemption (rules.displaces): while the waiting head cannot start and may displace the
 * victim, preempt the victim. Bounded by the running count.
 */
export function displaceForWaiting(ctx: BatchContext, canStart: (h: number) => boolean): void {
  const displaces = ctx.rules.displaces;
  if (displaces === null) return;
  while (ctx.waiting.length > 0 && ctx.running.length > 0) {
    const h = ctx.waiting[0];
    if (canStart(h)) return;
    const v = ctx.running[victimPosition(ctx)];
    if (!displaces(ctx.requests, h, v)) return;
    ctx.preempt(v);
  }
}

/** Whether the rules' admission control lets waiting request j start with `tokens` tokens. */
export function admissionAllows(ctx: BatchContext, j: number, tokens: number): boolean {
  const rule = ctx.rules.admission;
  if (rule === null) return true;
  // A replica with nothing running admits its head whatever the rule says: no rule may leave it idle.
  return rule.admit(ctx, j, tokens, ctx.running.length === 0);
}
