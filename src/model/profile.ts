// Serving profiles: what one replica can hold and how long an iteration takes.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const u32 = z.number().int().min(0).max(0xffffffff);
const positive = z.number().int().min(1).max(0xffffffff);

export const iterationModelSchema = z
  .object({
    base: u32,
    perPrefillToken: u32,
    perDecodeSeq: u32,
    perContextToken: u32,
  })
  .strict();

export const profileSchema = z
  .object({
    model: z.string().default('custom'),
    gpu: z.string().default('custom'),
    kvBlocks: positive,
    blockSize: positive.max(1 << 16),
    maxNumSeqs: positive.max(1 << 16),
    maxBatchedTokens: positive.max(1 << 20),
    maxModelLen: positive.max(1 << 24),
    /** Iteration time in nanoseconds: base + perPrefillToken*P + perDecodeSeq*D + perContextToken*S. */
    iterationNs: iterationModelSchema,
    source: z.string().default(''),
  })
  .strict();

export type IterationModel = z.infer<typeof iterationModelSchema>;
export type ServingProfile = z.infer<typeof profileSchema> & { name: string };

const presets: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('./profiles.json', import.meta.url), 'utf8'),
);

export const PROFILE_NAMES = Object.keys(presets);
export const DEFAULT_PROFILE = 'llama3-8b-h100';

export type ProfileOverrides = Partial<Pick<ServingProfile, 'kvBlocks' | 'blockSize' | 'maxNumSeqs' | 'maxBatchedTokens' | 'maxModelLen'>> & {
  iterationNs?: Partial<IterationModel>;
};

/** A preset by name, or a JSON file path holding one profile object, with overrides applied. */
export function resolveProfile(nameOrPath: string, overrides: ProfileOverrides = {}): ServingProfile {
  let raw: unknown;
  let name = nameOrPath;
  if (nameOrPath in presets) {
    raw = presets[nameOrPath];
  } else if (nameOrPath.endsWith('.json')) {
    try {
      raw = JSON.parse(readFileSync(nameOrPath, 'utf8'));
    } catch (e) {
      throw new ConfigError(`profile file ${nameOrPath}: ${(e as Error).message}`);
    }
  } else {
    throw new ConfigError(`unknown profile "${nameOrPath}"; valid: ${PROFILE_NAMES.join(', ')} (or a path to a .json profile)`);
  }
  const base = raw as Record<string, unknown>;
  const merged = {
    ...base,
    ...stripUndefined(overrides),
    iterationNs: { ...(base.iterationNs as object), ...stripUndefined(overrides.iterationNs ?? {}) },
  };
  const parsed = profileSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`profile ${name}: field ${issue.path.join('.')}: ${issue.message}`);
  }
  const profile = { ...parsed.data, name };
  checkIterationBound(profile);
  return profile;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Bad configuration or input: the CLI prints the message and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Largest iteration the GPU engine can time in u32 nanoseconds. */
export const MAX_ITERATION_NS = 0xffffffff;

/** Worst-case iteration: a full token budget, every sequence decoding, every KV token attended. */
export function worstIterationNs(p: ServingProfile, tokenBudget = p.maxBatchedTokens): number {
  const m = p.iterationNs;
  return m.base + m.perPrefillToken * tokenBudget + m.perDecodeSeq * p.maxNumSeqs + m.perContextToken * p.kvBlocks * p.blockSize;
}

export function checkIterationBound(p: ServingProfile, tokenBudget = p.maxBatchedTokens): void {
  const worst = worstIterationNs(p, tokenBudget);
  if (worst > MAX_ITERATION_NS) {
    throw new ConfigError(
      `profile ${p.name}: worst-case iteration is ${(worst / 1e9).toFixed(2)} s (token budget ${tokenBudget}, ` +
        `${p.maxNumSeqs} sequences, ${p.kvBlocks * p.blockSize} KV tokens), above the 4.29 s that iteration times may reach ` +
        `(u32 nanoseconds); lower iterationNs coefficients, maxBatchedTokens or kvBlocks`,
    );
  }
}

/**
 * Iteration time in whole microseconds, rounded up. Inputs: prefill tokens P, decoding sequences D, and
 * S = sum over the batch of each request's context length after the iteration. Exact in doubles because
 * checkIterationBound keeps the nanosecond total below 2^32.
 */
export function iterationUs(m: IterationModel, prefillTokens: number, decodeSeqs: number, contextTokens: number): number {
  const ns = m.base + m.perPrefillToken * prefillTokens + m.perDecodeSeq * decodeSeqs + m.perContextToken * contextTokens;
  return Math.ceil(ns / 1000);
}
