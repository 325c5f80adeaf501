import { z } from 'zod';
import type { EngineScheduler } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z.object({ watermarkPermille: watermarkPermille(0) }).strict();

/**
 * TensorRT-LLM's MAX_UTILIZATION capacity policy (batch_manager/capacityScheduler.cpp,
 * MaxUtilizationScheduler): requests in arrival order get their next step while blocks are free; a
 * request that does not fit pauses the last started request at or after it (its KV is dropped and
 * recomputed later, keeping its place in arrival order). The arrival-pass batching strategy.
 */
export const trtllmMaxUtilization: EngineScheduler<z.infer<typeof params>> = {
  name: 'trtllm-max-utilization',
  summary: 'TensorRT-LLM MAX_UTILIZATION: pack in arrival order, pause the newest started request when full',
  params,
  batching: () => 'arrival-pass',
  key: () => 0n,
};
