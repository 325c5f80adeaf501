// Which policies the GPU engine can run: those with a WGSL twin beside their TypeScript module.
import { existsSync } from 'node:fs';
import { PREDICTOR_NAMES } from './predictor/index.js';
import { oracle } from './predictor/oracle.js';
import type { Router } from './router/types.js';

const cache = new Map<string, boolean>();

/** Whether `<name>.wgsl` exists beside the policy's TypeScript module (src/policy/router or src/policy/engine). */
export function hasWgslTwin(kind: 'router' | 'scheduler', name: string): boolean {
  const key = `${kind}/${name}`;
  let found = cache.get(key);
  if (found === undefined) {
    found = existsSync(new URL(`./${kind === 'router' ? 'router' : 'engine'}/${name}.wgsl`, import.meta.url));
    cache.set(key, found);
  }
  return found;
}

/**
 * Predictors the GPU engine runs a lane with: every one (the host uploads each lane's predictions;
 * state.wgsl trace_predicted), except on routers that read predictedDecodeTokens, Σ max(predicted -
 * generated, 0) over a replica's outstanding requests. The GPU keeps the output tokens still to
 * generate instead (one counter per replica, lowered by one token per producer per iteration),
 * which is that sum only under the oracle: a request predicted short stops counting at zero, one
 * predicted long keeps its excess until it completes. Such lanes with another predictor run on the
 * CPU reference (gpuEligibility).
 */
export function gpuPredictors(router: Pick<Router, 'usesPrediction' | 'tokenViews'>): readonly string[] {
  return router.usesPrediction === true && router.tokenViews === true ? [oracle.name] : PREDICTOR_NAMES;
}
