import { z } from 'zod';
import type { EngineScheduler } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z.object({ watermarkPermille: watermarkPermille(10) }).strict();

/**
 * Shortest-job-first on the known prompt length: vLLM's priority policy with priority = prompt
 * tokens. The waiting queue is served shortest first and the longest running request is the
 * preemption victim.
 */
export const sjf: EngineScheduler<z.infer<typeof params>> = {
  name: 'sjf',
  summary: 'shortest prompt first (known lengths), prefill-first batching, preempt the longest',
  batching: () => 'prefill-first',
  params,
  key: (t, j) => BigInt(t.promptTokens[j]),
};
