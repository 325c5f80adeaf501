// The iteration-time model: exact integer evaluation, legacy profiles unchanged, the fast-forward
// run equal to the general evaluation, and the profile validator's bounds and field errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addToSums,
  attendedPairs,
  batchTokensPs,
  decodeRun,
  decodeRunUs,
  emptySums,
  iterationPs,
  iterationUs,
  MAX_ITERATION_PS,
  MAX_TOKEN_SEGMENTS,
  MODEL_WORDS,
  packModelWords,
  psToUs,
  type BatchSums,
  type IterationModel,
} from '../../src/model/iteration.js';
import { PROFILE_NAMES, resolveProfile } from '../../src/model/profile.js';
import { resolveLane } from '../../src/sim/lane.js';
import { configErrorOf } from '../helpers.js';
import { Draw, randomModel, randomSums, withinBound } from './random-models.js';

const seed = Number(process.env.SCHEDLAB_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
console.log(`iteration model test seed ${seed} (replay with SCHEDLAB_TEST_SEED=${seed})`);

/** The formula of iteration.ts in BigInt, term by term. */
function referencePs(m: IterationModel, b: BatchSums): bigint {
  const B = BigInt;
  const ns = B(m.base) + B(m.perPrefillToken) * B(b.prompt) + B(m.perDecodeSeq) * B(b.decodes) + B(m.perContextToken) * B(b.decodeContext + b.prefillContext) + B(m.perPrefillSeq) * B(b.prefills);
  let table = 0n;
  const t = b.prompt + b.decodes;
  m.perBatchTokenPs.forEach(([start, ps], j) => {
    const end = j + 1 < m.perBatchTokenPs.length ? Math.min(t, m.perBatchTokenPs[j + 1][0]) : t;
    if (end > start) table += B(ps) * B(end - start);
  });
  return ns * 1000n + B(m.perDecodeContextTokenPs) * B(b.decodeContext) + B(m.perPrefillContextTokenPs) * B(b.prefillContext) + B(m.perAttendedPairPs) * B(b.pairs) + table;
}

describe('iteration-time model', () => {
  it('evaluates exactly (BigInt reference) and rounds up to whole microseconds', () => {
    const d = new Draw(seed);
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = randomModel(d);
      const b = randomSums(d);
      const want = referencePs(m, b);
      if (want > BigInt(MAX_ITERATION_PS)) continue;
      expect(iterationPs(m, b)).toBe(Number(want));
      expect(iterationUs(m, b)).toBe(Number((want + 999_999n) / 1_000_000n));
      checked++;
    }
    expect(checked).toBeGreaterThan(10_000);
    for (const ps of [0, 1, 999_999, 1_000_000, 1_000_001, MAX_ITERATION_PS - 1, MAX_ITERATION_PS]) {
      expect(psToUs(ps)).toBe(Number((BigInt(ps) + 999_999n) / 1_000_000n));
    }
  });

  it('gives a linear profile exactly its old time: ceil((base + pp P + pd D + pc S) / 1000) µs', () => {
    const d = new Draw(seed ^ 1);
    for (let i = 0; i < 10_000; i++) {
      const m: IterationModel = { ...randomModel(d), perPrefillSeq: 0, perDecodeContextTokenPs: 0, perPrefillContextTokenPs: 0, perAttendedPairPs: 0, perBatchTokenPs: [] };
      const b = randomSums(d);
      const ns = m.base + m.perPrefillToken * b.prompt + m.perDecodeSeq * b.decodes + m.perContextToken * (b.decodeContext + b.prefillContext);
      if (ns >= 2 ** 32) continue; // the old model's bound
      expect(iterationUs(m, b)).toBe(Math.ceil(ns / 1000));
    }
  });

  it('sums a batch request by request: pairs are c*k + c(c+1)/2, contexts are after the iteration', () => {
    const s = emptySums();
    addToSums(s, 0, 512, true); // a first chunk
    addToSums(s, 1000, 24, true); // a later chunk
    addToSums(s, 700, 1, false);
    addToSums(s, 99, 1, false);
    expect(s).toEqual({ prompt: 536, decodes: 2, prefills: 2, decodeContext: 801, prefillContext: 1536, pairs: (512 * 513) / 2 + 24 * 1000 + (24 * 25) / 2 });
    expect(attendedPairs(1, 9)).toBe(10); // one token attends the 9 before it and itself
  });

  it('charges the batch-token table segment by segment, nothing below the first start', () => {
    const segs: [number, number][] = [
      [64, 1000],
      [256, 3000],
    ];
    expect(batchTokensPs(segs, 10)).toBe(0);
    expect(batchTokensPs(segs, 64)).toBe(0);
    expect(batchTokensPs(segs, 65)).toBe(1000);
    expect(batchTokensPs(segs, 256)).toBe(192 * 1000);
    expect(batchTokensPs(segs, 300)).toBe(192 * 1000 + 44 * 3000);
  });

  it('a pure-decode run gives at every iteration what the general evaluation gives', () => {
    const d = new Draw(seed ^ 2);
    const models = [...PROFILE_NAMES.map((n) => resolveProfile(n).iterationNs), ...Array.from({ length: 200 }, () => randomModel(d))];
    for (const m of models) {
      const n = 1 + d.mag(10);
      const ctx = n + d.mag(22);
      const run = decodeRun(m, n, ctx);
      for (const k of [0, 1, 2, 17, d.mag(16)]) {
        const sums = { ...emptySums(), decodes: n, decodeContext: ctx + k * n };
        if (!withinBound(iterationPs(m, sums))) continue;
        expect(decodeRunUs(run, k)).toBe(iterationUs(m, sums));
      }
    }
  });

  it('packs a model into MODEL_WORDS words, unused segments past every batch', () => {
    const m = resolveProfile('llama3-8b-h100').iterationNs;
    const w = packModelWords({ ...m, perBatchTokenPs: [[0, 5], [128, 7]] });
    expect([...w.slice(0, 4)]).toEqual([m.base, m.perPrefillToken, m.perDecodeSeq, m.perContextToken]);
    expect([...w.slice(8, 11)]).toEqual([0, 128, 0xffffffff]);
    expect(w.length).toBe(MODEL_WORDS);
    expect([...w.slice(8 + MAX_TOKEN_SEGMENTS, 11 + MAX_TOKEN_SEGMENTS)]).toEqual([5, 7, 0]);
  });
});

describe('profile validation of the model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schedlab-model-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const write = (obj: object) => {
    const path = join(dir, `profile-${files++}.json`);
    writeFileSync(path, JSON.stringify(obj));
    return path;
  };
  const limits = { kvBlocks: 1000, blockSize: 16, maxNumSeqs: 64, maxBatchedTokens: 2048, maxModelLen: 4096 };

  it('names the field of a bad segment table, a bad coefficient or an unknown term', () => {
    expect(configErrorOf(() => resolveProfile(write({ ...limits, iterationNs: { base: 1, perBatchTokenPs: [[64, 1], [64, 2]] } })))).toMatch(/iterationNs\.perBatchTokenPs.*increase/);
    expect(configErrorOf(() => resolveProfile(write({ ...limits, iterationNs: { base: 1, perAttendedPairPs: -1 } })))).toMatch(/iterationNs\.perAttendedPairPs/);
    expect(configErrorOf(() => resolveProfile(write({ ...limits, iterationNs: { base: 1, perBatchTokenPs: Array.from({ length: MAX_TOKEN_SEGMENTS + 1 }, (_, j) => [j, 1]) } })))).toMatch(
      /iterationNs\.perBatchTokenPs/,
    );
    expect(configErrorOf(() => resolveProfile(write({ ...limits, iterationNs: { base: 1, perKvToken: 3 } })))).toMatch(/iterationNs/);
  });

  it('refuses a profile whose worst-case iteration passes 71.6 minutes, naming iterationNs', () => {
    // 2048 tokens x 4096 context x 4.29 ms per pair is far past u32 microseconds.
    expect(configErrorOf(() => resolveProfile(write({ ...limits, iterationNs: { base: 1, perAttendedPairPs: 0xffffffff } })))).toMatch(/field iterationNs: worst-case iteration/);
  });

  it('accepts the README example: Llama-2-70B TP4 prefilling 131,072 tokens at once (about 30 s an iteration)', () => {
    const profile = resolveProfile('llama2-70b-a100x4', { maxModelLen: 131072, maxBatchedTokens: 131072 });
    const lane = resolveLane({ replicas: 1, router: { name: 'round-robin' }, scheduler: { name: 'vllm-fcfs' }, profile, seed: 1 });
    const s = emptySums();
    addToSums(s, 0, 131072, true);
    expect(iterationUs(lane.profile.iterationNs, s)).toBeGreaterThan(4.3e6);
  });
});
