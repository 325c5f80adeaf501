import { z } from 'zod';
import { draw, Stream } from '../../rng.js';
import type { Router } from './types.js';

/** Uniform choice from a stateless hash of (seed, request index). */
export const random: Router = {
  name: 'random',
  summary: 'uniform random replica (seeded)',
  params: z.object({}).strict(),
  route: (view, request, seed) => draw(seed, Stream.routerFirst, request.index) % view.replicas,
};
