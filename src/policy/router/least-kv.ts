import { z } from 'zod';
import { argminRotating, type Router } from './types.js';

/** Fewest KV blocks in use; fewer outstanding requests break ties. */
export const leastKv: Router = {
  name: 'least-kv',
  summary: 'fewest KV-cache blocks in use, then fewest outstanding requests',
  params: z.object({}).strict(),
  route: (view, request) =>
    argminRotating(
      view.replicas,
      request.index,
      (r) => view.usedBlocks[r],
      (r) => view.outstanding[r],
    ),
};
