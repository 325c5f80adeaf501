// Admission by reserved KV blocks (LARRY, TensorRT-LLM GUARANTEED_NO_EVICT): every running request
// has blocks set aside for the context it may grow to, and a waiting request starts only if the
// blocks for its own target fit in what is not set aside.
import type { AdmissionRule, LaneConstants, RequestTable } from './types.js';
import { ceilDiv } from './types.js';

/**
 * `target(t, j)` is the context (tokens) request j may grow to. At the start of admission,
 * unreserved = free blocks - watermark - sum over running requests of max(0, blocks(target) -
 * blocks held); a waiting request is admitted if blocks(target) <= unreserved, which it then takes.
 */
export function reservationAdmission(target: (t: RequestTable, j: number) => number, lane: LaneConstants): AdmissionRule {
  let unreserved = 0;
  const blocksOf = (t: RequestTable, j: number) => ceilDiv(target(t, j), lane.blockSize);
  return {
    begin(ctx) {
      const t = ctx.requests;
      let reserved = 0;
      for (const j of ctx.running) reserved += Math.max(0, blocksOf(t, j) - t.blocks[j]);
      unreserved = ctx.freeBlocks() - lane.watermarkBlocks - reserved;
    },
    admit(ctx, j, _tokens, force) {
      const need = blocksOf(ctx.requests, j);
      if (!force && need > unreserved) return false;
      unreserved -= need;
      return true;
    },
  };
}
