// One lane = one cluster configuration run over one (already windowed and scaled) trace.
import { z } from 'zod';
import { checkIterationBound, ConfigError, type ServingProfile } from '../model/profile.js';
import { batchingStrategy } from '../policy/engine/batching/index.js';
import type { BatchingStrategy } from '../policy/engine/batching/types.js';
import { engineScheduler } from '../policy/engine/index.js';
import type { EngineScheduler } from '../policy/engine/types.js';
import { DEFAULT_PREDICTOR, predictor as predictorByName } from '../policy/predictor/index.js';
import type { Predictor } from '../policy/predictor/types.js';
import { router } from '../policy/router/index.js';
import type { Router } from '../policy/router/types.js';

export interface SloTarget {
  ttftMs: number;
  tpotMs: number;
}

export const DEFAULT_SLO: SloTarget = { ttftMs: 2000, tpotMs: 100 };

export interface LaneSpec {
  replicas: number;
  router: { name: string; params?: Record<string, unknown> };
  scheduler: { name: string; params?: Record<string, unknown> };
  /** Output-length predictor for the policies that read predictions (default oracle). */
  predictor?: { name: string; params?: Record<string, unknown> };
  profile: ServingProfile;
  seed: number;
  slo?: SloTarget;
  /** Prefix caching on every replica (docs/semantics.md, "Prefix caching"); absent means off. Needs a trace with prefix hashes. */
  prefixCache?: 'on' | 'off';
}

/** A lane with its policies looked up and parameters validated and defaulted. */
export interface Lane {
  replicas: number;
  router: Router<any, any>;
  routerParams: Record<string, unknown>;
  scheduler: EngineScheduler;
  schedulerParams: { watermarkPermille: number } & Record<string, unknown>;
  /** The scheduler's batching strategy for these parameters. */
  batching: BatchingStrategy;
  predictor: Predictor<any>;
  predictorParams: Record<string, unknown>;
  profile: ServingProfile;
  seed: number;
  slo: SloTarget;
  /** KV blocks admission keeps free. */
  watermarkBlocks: number;
  /** Replicas keep a prefix cache. */
  prefixCache: boolean;
}

export const MAX_REPLICAS = 1024;

function parseParams<T>(schema: z.ZodType<T>, params: unknown, what: string): T {
  const parsed = schema.safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.join('.') || (issue as { keys?: string[] }).keys?.join(', ') || '(params)';
    throw new ConfigError(`${what} parameter ${key}: ${issue.message}`);
  }
  return parsed.data;
}

export function resolveLane(spec: LaneSpec): Lane {
  if (!Number.isInteger(spec.replicas) || spec.replicas < 1 || spec.replicas > MAX_REPLICAS) {
    throw new ConfigError(`replicas must be an integer in 1..${MAX_REPLICAS}, got ${spec.replicas}`);
  }
  if (!Number.isInteger(spec.seed) || spec.seed < 0 || spec.seed > 0xffffffff) {
    throw new ConfigError(`seed must be an integer in 0..4294967295, got ${spec.seed}`);
  }
  const r = router(spec.router.name);
  const s = engineScheduler(spec.scheduler.name);
  const routerParams = parseParams(r.params, spec.router.params, `router ${r.name}`) as Record<string, unknown>;
  const schedulerParams = parseParams(s.params, spec.scheduler.params, `scheduler ${s.name}`) as Lane['schedulerParams'];
  const batching = batchingStrategy(s.batching(schedulerParams));
  const p = predictorByName(spec.predictor?.name ?? DEFAULT_PREDICTOR);
  const predictorParams = parseParams(p.params, spec.predictor?.params, `predictor ${p.name}`) as Record<string, unknown>;
  const profile = spec.profile;
  if (batching.wholePrompts && profile.maxBatchedTokens < profile.maxModelLen) {
    throw new ConfigError(
      `scheduler ${s.name} prefills whole prompts, so maxBatchedTokens (${profile.maxBatchedTokens}) must be at least ` +
        `maxModelLen (${profile.maxModelLen}), as vLLM requires without chunked prefill; use a chunked scheduler or raise --max-batched-tokens`,
    );
  }
  checkIterationBound(profile);
  const slo = spec.slo ?? DEFAULT_SLO;
  if (!(slo.ttftMs > 0) || !(slo.tpotMs > 0)) throw new ConfigError('SLO targets must be positive milliseconds');
  const watermarkBlocks = Math.floor((profile.kvBlocks * schedulerParams.watermarkPermille) / 1000);
  if (spec.prefixCache !== undefined && spec.prefixCache !== 'on' && spec.prefixCache !== 'off') {
    throw new ConfigError(`prefixCache must be "on" or "off", got ${JSON.stringify(spec.prefixCache)}`);
  }
  const prefixCache = spec.prefixCache === 'on';
  return { replicas: spec.replicas, router: r, routerParams, scheduler: s, schedulerParams, batching, predictor: p, predictorParams, profile, seed: spec.seed, slo, watermarkBlocks, prefixCache };
}
