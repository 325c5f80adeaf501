import { ConfigError } from '../../model/profile.js';
import { kvJsq } from './kv-jsq.js';
import { leastKv } from './least-kv.js';
import { leastOutstanding } from './least-outstanding.js';
import { powerOfTwo } from './power-of-two.js';
import { prefixAffinity } from './prefix-affinity.js';
import { prefixScore } from './prefix-score.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import { sal } from './sal.js';
import { tokenJsq } from './token-jsq.js';
import type { Router } from './types.js';

export const ROUTERS: readonly Router<any, any>[] = [roundRobin, random, leastOutstanding, powerOfTwo, leastKv, tokenJsq, kvJsq, sal, prefixAffinity, prefixScore];
export const ROUTER_NAMES = ROUTERS.map((r) => r.name);

export function router(name: string): Router<any, any> {
  const found = ROUTERS.find((r) => r.name === name);
  if (!found) throw new ConfigError(`unknown router "${name}"; valid: ${ROUTER_NAMES.join(', ')}`);
  return found;
}
