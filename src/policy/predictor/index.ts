import { ConfigError } from '../../model/profile.js';
import { bucket } from './bucket.js';
import { noisy } from './noisy.js';
import { oracle } from './oracle.js';
import type { LengthColumns, Predictor } from './types.js';

export const PREDICTORS: readonly Predictor<any>[] = [oracle, noisy, bucket];
export const PREDICTOR_NAMES = PREDICTORS.map((p) => p.name);
export const DEFAULT_PREDICTOR = 'oracle';

export function predictor(name: string): Predictor<any> {
  const found = PREDICTORS.find((p) => p.name === name);
  if (!found) throw new ConfigError(`unknown predictor "${name}"; valid: ${PREDICTOR_NAMES.join(', ')}`);
  return found;
}

// Lanes of a sweep share length columns (windows and rate scales keep the arrays), so predictions
// are computed once per (columns, predictor, parameters, seed).
const cache = new WeakMap<Uint32Array, Map<string, { prompts: Uint32Array; out: Uint32Array }>>();

/** Predicted output lengths of every request of a trace (host-side input preparation, cached). */
export function predictOutputs(lengths: LengthColumns, p: Predictor<any>, params: Record<string, unknown>, seed: number): Uint32Array {
  let byKey = cache.get(lengths.outputTokens);
  if (!byKey) cache.set(lengths.outputTokens, (byKey = new Map()));
  const key = `${p.name}\u0000${JSON.stringify(params)}\u0000${p.seeded ? seed : 0}`;
  const hit = byKey.get(key);
  if (hit && hit.prompts === lengths.promptTokens) return hit.out;
  const out = p.predict(lengths, params, seed);
  byKey.set(key, { prompts: lengths.promptTokens, out });
  return out;
}
