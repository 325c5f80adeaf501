import { z } from 'zod';
import { batchingParam } from './common-params.js';
import { reservationAdmission } from './reservation.js';
import type { EngineScheduler, RequestTable } from './types.js';
import { watermarkPermille } from './watermark.js';

const params = z
  .object({
    watermarkPermille: watermarkPermille(0),
    agingTokensPerS: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(100)
      .describe('aging credit: tokens taken off a waiting request\'s predicted work per second since its arrival (0 = pure shortest-work-first)'),
    reservePermille: z
      .number()
      .int()
      .min(0)
      .max(4000)
      .default(500)
      .describe('KV reserved for a request\'s growth, per mille of its predicted output (1000 = the whole prediction)'),
    batching: batchingParam,
  })
  .strict();

type Params = z.infer<typeof params>;

/** Context (tokens) request j is reserved to grow to: prompt + reservePermille/1000 x predicted output, at least what it must prefill. */
function reserveTarget(t: RequestTable, j: number, p: Params): number {
  return Math.max(t.prefillTarget[j], t.promptTokens[j] + Math.floor((p.reservePermille * t.predicted[j]) / 1000));
}

/**
 * schedlab's reading of LARRY (Kossmann et al. 2024), not the authors' algorithm (docs/policies.md):
 * (1) queue order by predicted work minus an aging credit, key = (prompt + predicted output) x 10^6
 * + agingTokensPerS x arrival µs, which orders exactly like prompt + predicted - agingTokensPerS x
 * seconds waited at every instant; (2) a request starts only if the blocks for its reserve target fit
 * in the blocks not reserved for the running requests' targets; (3) the victim of a block shortage
 * is the running request with the fewest computed tokens (cheapest to recompute); (4) chunked or
 * whole-prompt batching.
 */
export const larry: EngineScheduler<Params> = {
  name: 'larry',
  summary: "schedlab's reading of LARRY: predicted shortest work with aging, reserved-memory admission, cheapest-recompute victim",
  params,
  usesPrediction: true,
  gpuParams: (p) => [p.agingTokensPerS, p.reservePermille],
  // larry.wgsl: the u64 key, and the reserve target in u32; prompt + predicted stays in u32 since the
  // reserve target bounds the prompt below 2^31 and predictions are at most MAX_PREDICTION (2^24).
  gpuHeadroom: (p, m) => {
    if (BigInt(m.predictedWork) * 1_000_000n + BigInt(p.agingTokensPerS) * BigInt(m.arrivalUs) >= 2n ** 64n) return 'larry key (prompt + predicted) x 10^6 + agingTokensPerS x arrival µs can reach 2^64';
    if (m.prompt + Math.floor((p.reservePermille * m.predicted) / 1000) >= 2 ** 31) return 'larry reserve target prompt + reservePermille x predicted / 1000 can reach 2^31 tokens';
    return null;
  },
  batching: (p) => p.batching,
  key: (t, j, _now, p) => BigInt(t.promptTokens[j] + t.predicted[j]) * 1_000_000n + BigInt(p.agingTokensPerS) * BigInt(t.arrivalUs[j]),
  rules: (p, lane) => ({
    admission: reservationAdmission((t, j) => reserveTarget(t, j, p), lane),
    preemptFirst: (t, a, b) => t.ctx[a] < t.ctx[b],
  }),
  samples: [
    { agingTokensPerS: 0, reservePermille: 0 },
    { agingTokensPerS: 100, reservePermille: 500 },
    { agingTokensPerS: 5000, reservePermille: 1000, batching: 'prefill-first' },
    { agingTokensPerS: 1, reservePermille: 2000 },
  ],
};
