import { z } from 'zod';
import { committedBlocks } from './committed.js';
import { argminRotating, type Router } from './types.js';

/** Join the shortest queue by KV blocks committed (in use plus queued prompts'); fewer outstanding requests break ties. */
export const kvJsq: Router = {
  name: 'kv-jsq',
  summary: 'fewest KV blocks committed (in use + queued prompts), then fewest outstanding',
  params: z.object({}).strict(),
  tokenViews: true,
  route: (view, request) =>
    argminRotating(
      view.replicas,
      request.index,
      (r) => committedBlocks(view, r),
      (r) => view.outstanding[r],
    ),
};
