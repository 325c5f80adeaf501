import { z } from 'zod';
import type { Router } from './types.js';

/** The n-th routed request goes to replica n mod R. */
export const roundRobin: Router = {
  name: 'round-robin',
  summary: 'replica (routed count) mod R',
  params: z.object({}).strict(),
  route: (view) => view.routed % view.replicas,
};
