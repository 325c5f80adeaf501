import { expect } from 'vitest';
import { firstDifference } from '../src/metrics/record.js';
import { ConfigError, resolveProfile, type ProfileOverrides } from '../src/model/profile.js';
import { simulate } from '../src/sim/cpu/simulator.js';
import { resolveLane, type LaneSpec } from '../src/sim/lane.js';
import type { Trace } from '../src/trace/trace.js';

/** A trace from [arrivalUs, prompt, output] rows. */
export function makeTrace(rows: [number, number, number][]): Trace {
  return {
    name: 'hand-made',
    source: 'test',
    arrivalUs: Float64Array.from(rows.map((r) => r[0])),
    promptTokens: Uint32Array.from(rows.map((r) => r[1])),
    outputTokens: Uint32Array.from(rows.map((r) => r[2])),
    skippedRows: 0,
  };
}

/** The trace with prefix hashes: request i's are hashes[i], one per `unitTokens` prompt tokens. */
export function withPrefixes(trace: Trace, hashes: number[][], unitTokens: number): Trace {
  const offsets = [0];
  for (const h of hashes) offsets.push(offsets[offsets.length - 1] + h.length);
  return { ...trace, prefixHashes: Uint32Array.from(hashes.flat()), prefixOffsets: Uint32Array.from(offsets), prefixBlockTokens: unitTokens };
}

export function tinySpec(
  scheduler: string,
  overrides: ProfileOverrides = {},
  extra: Partial<LaneSpec> & { schedulerParams?: Record<string, unknown> } = {},
): LaneSpec {
  return {
    replicas: 1,
    router: { name: 'round-robin' },
    scheduler: { name: scheduler, params: extra.schedulerParams ?? { watermarkPermille: 0 } },
    profile: resolveProfile('tiny-test', overrides),
    seed: 0,
    ...extra,
  };
}

/** Runs a lane with fast-forward (checking every invariant) and without, expects identical records, returns the first with per-request rows. */
export function runBoth(trace: Trace, spec: LaneSpec) {
  const lane = resolveLane(spec);
  const fast = simulate(trace, lane, { perRequest: true, checkInvariants: true });
  const slow = simulate(trace, lane, { fastForward: false, checkInvariants: true });
  expect(firstDifference(fast.raw, slow.raw)).toBeNull();
  return fast;
}

/** The message of the ConfigError that f throws (fails the test when it throws nothing else). */
export function configErrorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error thrown');
}

/** A burst-heavy trace of n requests within the tiny-test profile's 32-token model length. */
export function burstTrace(seed: number, n: number): Trace {
  let x = seed;
  const next = (k: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % k;
  };
  const rows: [number, number, number][] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (next(3) === 0) at += next(4000);
    const prompt = 1 + next(16);
    rows.push([at, prompt, 1 + next(32 - prompt)]);
  }
  return makeTrace(rows);
}
