import { z } from 'zod';
import { argminRotating, type Router } from './types.js';

/**
 * Join the shortest queue by outstanding tokens: prompt tokens still to prefill plus the predictor's
 * remaining output tokens (the token-count balancing of production routers and simulators).
 */
export const tokenJsq: Router = {
  name: 'token-jsq',
  summary: 'fewest outstanding tokens (queued prompt + predicted remaining output)',
  params: z.object({}).strict(),
  usesPrediction: true,
  tokenViews: true,
  route: (view, request) => argminRotating(view.replicas, request.index, (r) => view.queuedPrefillTokens[r] + view.predictedDecodeTokens[r]),
};
