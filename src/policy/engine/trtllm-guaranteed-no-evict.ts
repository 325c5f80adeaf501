import { z } from 'zod';
import { maxTokensOf, maxTokensParam } from './common-params.js';
import { reservationAdmission } from './reservation.js';
import type { EngineScheduler } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z.object({ watermarkPermille: watermarkPermille(0), maxTokens: maxTokensParam }).strict();

/**
 * TensorRT-LLM's default capacity policy, GUARANTEED_NO_EVICT (batch_manager/capacityScheduler.cpp,
 * NoEvictScheduledBlocksManager): started requests always run; a new request starts, in arrival
 * order, only if the blocks it needs to complete (prompt + max_tokens - 1 tokens) fit in the free
 * blocks minus what every started request still needs to complete; the first that does not fit
 * stops admission. With max_tokens at least the real output no started request is ever preempted.
 * Chunked batching stands for TensorRT-LLM's in-flight batching with chunked context.
 */
export const trtllmGuaranteedNoEvict: EngineScheduler<z.infer<typeof params>> = {
  name: 'trtllm-guaranteed-no-evict',
  summary: 'TensorRT-LLM GUARANTEED_NO_EVICT: admit only if prompt + max_tokens fit next to every started request\'s remainder',
  params,
  batching: () => 'chunked',
  key: () => 0n,
  rules: (p, lane) => ({
    admission: reservationAdmission((t, j) => t.promptTokens[j] + maxTokensOf(t, j, p.maxTokens, lane.maxModelLen) - 1, lane),
  }),
  gpuParams: (p) => [p.maxTokens === 'max-model-len' ? 1 : 0],
  samples: [{ maxTokens: 'trace-output' }, { maxTokens: 'max-model-len' }],
};
