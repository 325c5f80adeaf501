import { z } from 'zod';
import { argminRotating, type Router } from './types.js';

/** Join the shortest queue: fewest requests waiting or running. */
export const leastOutstanding: Router = {
  name: 'least-outstanding',
  summary: 'fewest outstanding (waiting + running) requests',
  params: z.object({}).strict(),
  route: (view, request) => argminRotating(view.replicas, request.index, (r) => view.outstanding[r]),
};
