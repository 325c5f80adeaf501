import { z } from 'zod';
import type { EngineScheduler, RequestTable } from './types.js';
import { watermarkPermille } from './watermark.js';

// The order is the twin's cfg.scheduler_params.x (vllm-priority.wgsl).
const PRIORITY_SOURCES = ['predicted-output', 'prompt', 'predicted-total'] as const;

const params = z
  .object({
    watermarkPermille: watermarkPermille(0),
    priority: z
      .enum(PRIORITY_SOURCES)
      .default('predicted-output')
      .describe('what the client sends as priority (lower first): predicted output tokens, prompt tokens, or their sum'),
  })
  .strict();

type Params = z.infer<typeof params>;

function priorityOf(t: RequestTable, j: number, p: Params): number {
  if (p.priority === 'prompt') return t.promptTokens[j];
  if (p.priority === 'predicted-output') return t.predicted[j];
  return t.promptTokens[j] + t.predicted[j];
}

/**
 * vLLM v1 with --scheduling-policy priority (vllm/v1/core/sched/scheduler.py, request_queue.py):
 * chunked batching; waiting requests by (priority, arrival); running requests in admission order;
 * when a step needs a block, the running request with the largest (priority, arrival) is preempted,
 * even one already scheduled this step (its tokens return to the budget). No aging.
 */
export const vllmPriority: EngineScheduler<Params> = {
  name: 'vllm-priority',
  summary: 'vLLM v1 priority policy: (priority, arrival) order, evict the largest (priority, arrival)',
  params,
  usesPrediction: true,
  batching: () => 'chunked',
  key: (t, j, _now, p) => BigInt(priorityOf(t, j, p)),
  rules: (p) => ({
    runningOrder: 'admission',
    preemptFirst: (t, a, b) => {
      const pa = priorityOf(t, a, p);
      const pb = priorityOf(t, b, p);
      return pa !== pb ? pa > pb : a > b;
    },
  }),
  samples: [{ priority: 'predicted-output' }, { priority: 'prompt' }, { priority: 'predicted-total' }],
  gpuParams: (p) => [PRIORITY_SOURCES.indexOf(p.priority)],
};
