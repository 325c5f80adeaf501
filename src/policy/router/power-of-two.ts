import { z } from 'zod';
import { draw, Stream } from '../../rng.js';
import type { Router } from './types.js';

/** Sample two distinct replicas, keep the one with fewer outstanding requests (the first on a tie). */
export const powerOfTwo: Router = {
  name: 'power-of-two',
  summary: 'two random replicas, the one with fewer outstanding requests',
  params: z.object({}).strict(),
  route: (view, request, seed) => {
    if (view.replicas === 1) return 0;
    const first = draw(seed, Stream.routerFirst, request.index) % view.replicas;
    let second = draw(seed, Stream.routerSecond, request.index) % (view.replicas - 1);
    if (second >= first) second++;
    return view.outstanding[second] < view.outstanding[first] ? second : first;
  },
};
