// Serving profiles: what one replica can hold and how long an iteration takes.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { MAX_ITERATION_PS, MAX_TOKEN_SEGMENTS, worstIterationPs, type IterationModel } from './iteration.js';

const u32 = z.number().int().min(0).max(0xffffffff);
const positive = z.number().int().min(1).max(0xffffffff);

const segmentsSchema = z
  .array(z.tuple([u32, u32]))
  .max(MAX_TOKEN_SEGMENTS)
  .refine((segs) => segs.every((s, j) => j === 0 || s[0] > segs[j - 1][0]), 'segment starts must increase strictly')
  .default([]);

/** The iteration-time model (src/model/iteration.ts); fields left out are 0. */
export const iterationModelSchema = z
  .object({
    base: u32,
    perPrefillToken: u32.default(0),
    perDecodeSeq: u32.default(0),
    perContextToken: u32.default(0),
    perPrefillSeq: u32.default(0),
    perDecodeContextTokenPs: u32.default(0),
    perPrefillContextTokenPs: u32.default(0),
    perAttendedPairPs: u32.default(0),
    perBatchTokenPs: segmentsSchema,
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
    /** Iteration time (src/model/iteration.ts, docs/profiles.md). */
    iterationNs: iterationModelSchema,
    source: z.string().default(''),
  })
  .strict();

export type { IterationModel };
export type ServingProfile = z.infer<typeof profileSchema> & { name: string };

const presets: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('./profiles.json', import.meta.url), 'utf8'),
);

export const PROFILE_NAMES = Object.keys(presets);
export const DEFAULT_PROFILE = 'llama3-8b-h100';

export type ProfileOverrides = Partial<Pick<ServingProfile, 'kvBlocks' | 'blockSize' | 'maxNumSeqs' | 'maxBatchedTokens' | 'maxModelLen'>> & {
  iterationNs?: Partial<Pick<IterationModel, 'base' | 'perPrefillToken' | 'perDecodeSeq' | 'perContextToken'>>;
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
  // `name` is what `run --json` prints in config.profile: a profile copied from there still loads
  // (the file's path names it).
  const { name: _printedName, ...base } = raw as Record<string, unknown>;
  const merged = {
    ...base,
    ...stripUndefined(overrides),
    iterationNs: { ...(base.iterationNs as object), ...stripUndefined(overrides.iterationNs ?? {}) },
  };
  const parsed = profileSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue.path.length > 0 ? `field ${issue.path.join('.')}` : 'top level';
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${issue.path.length === 0 ? `; valid: ${Object.keys(profileSchema.shape).join(', ')}` : ''}`
        : issue.message;
    throw new ConfigError(`profile ${name}: ${at}: ${message}`);
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

/** Worst-case iteration: a full token budget, every sequence decoding, every KV token attended. */
export function worstIterationUs(p: ServingProfile, tokenBudget = p.maxBatchedTokens): number {
  const ps = worstIterationPs(p.iterationNs, { tokenBudget, maxNumSeqs: p.maxNumSeqs, kvTokens: p.kvBlocks * p.blockSize, maxModelLen: p.maxModelLen });
  return ps / 1e6;
}

export function checkIterationBound(p: ServingProfile, tokenBudget = p.maxBatchedTokens): void {
  const worstUs = worstIterationUs(p, tokenBudget);
  if (worstUs > MAX_ITERATION_PS / 1e6) {
    throw new ConfigError(
      `profile ${p.name}: field iterationNs: worst-case iteration is ${(worstUs / 60e6).toFixed(1)} min (token budget ${tokenBudget}, ` +
        `${p.maxNumSeqs} sequences, ${p.kvBlocks * p.blockSize} KV tokens), above the 71.6 min that iteration times may reach ` +
        `(u32 microseconds); lower iterationNs coefficients, maxBatchedTokens or kvBlocks`,
    );
  }
}
