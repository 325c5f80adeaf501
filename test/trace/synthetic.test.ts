import { describe, expect, it } from 'vitest';
import { loadLengths } from '../../src/trace/readers.js';
import { TraceError } from '../../src/trace/errors.js';
import { DEFAULT_LENGTHS, gammaTrace, parseSyntheticSpec, poissonTrace, type LengthModel } from '../../src/trace/synthetic.js';
import type { Trace } from '../../src/trace/trace.js';

const chat = DEFAULT_LENGTHS;
const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Trace, b: Trace) =>
  bytes(a.arrivalUs).equals(bytes(b.arrivalUs)) && bytes(a.promptTokens).equals(bytes(b.promptTokens)) && bytes(a.outputTokens).equals(bytes(b.outputTokens));

function gapStats(t: Trace) {
  const n = t.arrivalUs.length - 1;
  let sum = 0;
  let sq = 0;
  for (let i = 1; i <= n; i++) {
    const g = t.arrivalUs[i] - t.arrivalUs[i - 1];
    sum += g;
    sq += g * g;
  }
  const mean = sum / n;
  return { mean, cv: Math.sqrt(sq / n - mean * mean) / mean };
}

function checkShape(t: Trace, durationS: number) {
  expect(t.arrivalUs[0]).toBe(0);
  expect(t.skippedRows).toBe(0);
  expect(t.promptTokens.length).toBe(t.arrivalUs.length);
  expect(t.outputTokens.length).toBe(t.arrivalUs.length);
  for (let i = 0; i < t.arrivalUs.length; i++) {
    const a = t.arrivalUs[i];
    if (!Number.isInteger(a) || a < (i ? t.arrivalUs[i - 1] : 0) || a >= durationS * 1e6) throw new Error(`bad arrival ${a} at ${i}`);
    if (t.promptTokens[i] < 1 || t.outputTokens[i] < 1) throw new Error(`zero length at ${i}`);
  }
}

describe('determinism', () => {
  it.each([
    ['poisson', (seed: number) => poissonTrace({ ratePerS: 7, durationS: 300, seed, lengths: chat })],
    ['gamma cv 3', (seed: number) => gammaTrace({ ratePerS: 7, cv: 3, durationS: 300, seed, lengths: chat })],
    ['gamma cv 0.5', (seed: number) => gammaTrace({ ratePerS: 7, cv: 0.5, durationS: 300, seed, lengths: chat })],
  ])('%s: same seed gives identical arrays, another seed different ones', (_, make) => {
    const a = make(1);
    checkShape(a, 300);
    expect(same(a, make(1))).toBe(true);
    const b = make(2);
    expect(same(a, b)).toBe(false);
    expect(bytes(a.promptTokens.subarray(0, 100)).equals(bytes(b.promptTokens.subarray(0, 100)))).toBe(false);
  });

  it('pins the generator: these values change only if the algorithm does', () => {
    const t = poissonTrace({ ratePerS: 5, durationS: 60, seed: 1, lengths: chat });
    const g = gammaTrace({ ratePerS: 5, cv: 3, durationS: 60, seed: 1, lengths: chat });
    expect(Array.from(t.arrivalUs.subarray(0, 4))).toEqual([0, 151_860, 160_592, 383_663]);
    expect(Array.from(t.promptTokens.subarray(0, 4))).toEqual([1163, 767, 1448, 901]);
    expect(Array.from(t.outputTokens.subarray(0, 4))).toEqual([1139, 630, 188, 332]);
    expect(Array.from(g.arrivalUs.subarray(0, 4))).toEqual([0, 1_786_009, 2_609_709, 2_610_382]);
  });
});

describe('arrival processes', () => {
  it('Poisson: mean rate and gap cv on a long trace', () => {
    const t = poissonTrace({ ratePerS: 20, durationS: 3600, seed: 11, lengths: chat });
    checkShape(t, 3600);
    expect(t.arrivalUs.length / 3600).toBeGreaterThan(20 * 0.98);
    expect(t.arrivalUs.length / 3600).toBeLessThan(20 * 1.02);
    const { mean, cv } = gapStats(t);
    expect(Math.abs(mean - 50_000) / 50_000).toBeLessThan(0.02);
    expect(Math.abs(cv - 1)).toBeLessThan(0.03);
  });

  it.each([0.5, 1, 3])('gamma cv %d: rate and cv roughly right', (cv) => {
    const t = gammaTrace({ ratePerS: 20, cv, durationS: 7200, seed: 5, lengths: chat });
    checkShape(t, 7200);
    expect(Math.abs(t.arrivalUs.length / 7200 - 20) / 20).toBeLessThan(0.05);
    expect(Math.abs(gapStats(t).cv - cv) / cv).toBeLessThan(0.1);
  });

  it('bursty gamma has more near-ties than Poisson', () => {
    const p = poissonTrace({ ratePerS: 20, durationS: 600, seed: 3, lengths: chat });
    const g = gammaTrace({ ratePerS: 20, cv: 3, durationS: 600, seed: 3, lengths: chat });
    const short = (t: Trace) => t.arrivalUs.filter((a, i) => i > 0 && a - t.arrivalUs[i - 1] < 1_000).length / t.arrivalUs.length;
    expect(short(g)).toBeGreaterThan(3 * short(p));
  });
});

describe('lengths', () => {
  it('lognormal: medians near the given ones, clamped to [1, max]', () => {
    const lengths: LengthModel = { kind: 'lognormal', promptMedian: 1000, promptSigma: 1, outputMedian: 200, outputSigma: 1 };
    const t = poissonTrace({ ratePerS: 50, durationS: 600, seed: 9, lengths });
    const median = (a: Uint32Array) => Array.from(a).sort((x, y) => x - y)[a.length >> 1];
    expect(Math.abs(median(t.promptTokens) - 1000) / 1000).toBeLessThan(0.05);
    expect(Math.abs(median(t.outputTokens) - 200) / 200).toBeLessThan(0.05);
    const wide = poissonTrace({ ratePerS: 50, durationS: 600, seed: 9, lengths: { ...lengths, promptSigma: 4, outputSigma: 4, maxPrompt: 4096, maxOutput: 512 } });
    expect(Math.max(...wide.promptTokens)).toBe(4096);
    expect(Math.max(...wide.outputTokens)).toBe(512);
    expect(Math.min(...wide.promptTokens)).toBe(1);
    expect(Math.min(...wide.outputTokens)).toBe(1);
  });

  it('empirical: samples (prompt, output) pairs of the source', () => {
    const src = loadLengths(new URL('../../traces/sharegpt-lengths.csv', import.meta.url).pathname);
    const pairs = new Set(Array.from(src.promptTokens, (p, i) => `${p},${src.outputTokens[i]}`));
    const t = gammaTrace({ ratePerS: 10, cv: 2, durationS: 600, seed: 4, lengths: { kind: 'empirical', trace: src } });
    checkShape(t, 600);
    for (let i = 0; i < t.arrivalUs.length; i++) expect(pairs.has(`${t.promptTokens[i]},${t.outputTokens[i]}`)).toBe(true);
    expect(new Set(t.promptTokens).size).toBeGreaterThan(t.arrivalUs.length / 4);
  });

  it('rejects bad options', () => {
    const base = { ratePerS: 1, durationS: 10, seed: 0, lengths: chat };
    expect(() => poissonTrace({ ...base, ratePerS: 0 })).toThrow(TraceError);
    expect(() => poissonTrace({ ...base, durationS: -1 })).toThrow(/duration/);
    expect(() => poissonTrace({ ...base, seed: 1.5 })).toThrow(/seed/);
    expect(() => gammaTrace({ ...base, cv: 0 })).toThrow(/cv/);
    expect(() => poissonTrace({ ...base, lengths: { ...chat, promptMedian: 0 } as LengthModel })).toThrow(/promptMedian/);
    expect(() => poissonTrace({ ...base, ratePerS: 1e6, durationS: 1e6 })).toThrow(/requests/);
  });
});

describe('parseSyntheticSpec', () => {
  it('poisson and gamma specs equal the direct calls with chat defaults', () => {
    const p = parseSyntheticSpec('poisson:rate=5,duration=600,seed=1');
    expect(same(p, poissonTrace({ ratePerS: 5, durationS: 600, seed: 1, lengths: chat }))).toBe(true);
    expect(p.source).toBe('poisson:rate=5,duration=600,seed=1');
    const g = parseSyntheticSpec('gamma:rate=5,cv=3,duration=600,seed=1');
    expect(same(g, gammaTrace({ ratePerS: 5, cv: 3, durationS: 600, seed: 1, lengths: chat }))).toBe(true);
    expect(Math.max(...p.promptTokens)).toBeLessThanOrEqual(8192);
    expect(Math.max(...p.outputTokens)).toBeLessThanOrEqual(2048);
  });

  it('lognormal keys and lengths=<file>', () => {
    const t = parseSyntheticSpec('poisson:rate=5,duration=60,seed=2,prompt_median=50,prompt_sigma=0,output_median=7,output_sigma=0');
    expect(new Set(t.promptTokens)).toEqual(new Set([50]));
    expect(new Set(t.outputTokens)).toEqual(new Set([7]));
    const e = parseSyntheticSpec('gamma:rate=5,cv=2,duration=60,lengths=traces/sharegpt-lengths.csv');
    expect(e.arrivalUs.length).toBeGreaterThan(0);
  });

  it.each([
    ['poisson:rate=5,duration=600,burst=2', /unknown key "burst"; valid keys for poisson: rate, duration, seed, lengths, prompt_median/],
    ['gamma:rate=5,duration=600', /missing cv=/],
    ['poisson:duration=600', /missing rate=/],
    ['poisson:rate=fast,duration=600', /rate="fast" is not a number/],
    ['poisson:rate=5,rate=6,duration=600', /"rate" given twice/],
    ['poisson:rate,duration=600', /key "rate" needs a value/],
    ['weibull:rate=5', /unknown kind "weibull"; valid: poisson, gamma/],
    ['poisson:rate=5,duration=60,lengths=x.csv,prompt_median=3', /cannot be combined/],
    ['poisson:rate=5,duration=60,lengths=/nonexistent.csv', /\/nonexistent.csv: no such file/],
  ])('%s is a TraceError', (spec, message) => {
    expect(() => parseSyntheticSpec(spec)).toThrow(TraceError);
    expect(() => parseSyntheticSpec(spec)).toThrow(message);
  });
});

describe('sessions workload', () => {
  const spec = 'sessions:rate=1,duration=300,seed=4,turns=5,think=20,system_prompts=3,system_tokens=1000,hash_block=16';
  const t = parseSyntheticSpec(spec);
  const hashes = (i: number) => Array.from(t.prefixHashes!.subarray(t.prefixOffsets![i], t.prefixOffsets![i + 1]));
  const sysUnits = Math.floor(1000 / 16);

  it('is reproducible, sorted, within its context limit, with one hash per 16 prompt tokens', () => {
    const again = parseSyntheticSpec(spec);
    expect(same(t, again)).toBe(true);
    expect(bytes(t.prefixHashes!).equals(bytes(again.prefixHashes!))).toBe(true);
    expect(same(t, parseSyntheticSpec(spec.replace('seed=4', 'seed=5')))).toBe(false);
    expect(t.prefixBlockTokens).toBe(16);
    expect(t.arrivalUs[0]).toBe(0);
    for (let i = 0; i < t.arrivalUs.length; i++) {
      if (i > 0) expect(t.arrivalUs[i]).toBeGreaterThanOrEqual(t.arrivalUs[i - 1]);
      expect(t.arrivalUs[i]).toBeLessThan(300e6);
      expect(t.promptTokens[i]).toBeGreaterThan(1000);
      expect(t.promptTokens[i] + t.outputTokens[i]).toBeLessThanOrEqual(8192);
      expect(hashes(i)).toHaveLength(Math.ceil(t.promptTokens[i] / 16));
    }
  });

  it('shares system prompts across sessions and extends each turn with the previous prompt and answer', () => {
    // A session is named by its first unit after the system prompt (fresh in turn 1, kept by later turns).
    const sessions = new Map<number, number[]>();
    const systemPrompts = new Set<number>();
    for (let i = 0; i < t.arrivalUs.length; i++) {
      const h = hashes(i);
      systemPrompts.add(h[0]);
      // The system prompt's units are p x sysUnits + u.
      expect(h.slice(0, sysUnits)).toEqual(Array.from({ length: sysUnits }, (_, u) => h[0] + u));
      if (t.promptTokens[i] >= (sysUnits + 1) * 16 + 16) (sessions.get(h[sysUnits]) ?? sessions.set(h[sysUnits], []).get(h[sysUnits])!).push(i);
    }
    expect(systemPrompts.size).toBe(3);
    let followUps = 0;
    for (const turns of sessions.values()) {
      for (let k = 1; k < turns.length; k++) {
        const [prev, next] = [turns[k - 1], turns[k]];
        expect(t.promptTokens[next]).toBeGreaterThan(t.promptTokens[prev] + t.outputTokens[prev]);
        const kept = Math.floor(t.promptTokens[prev] / 16);
        expect(hashes(next).slice(0, kept)).toEqual(hashes(prev).slice(0, kept));
        // The previous prompt's partial last unit continues with its answer: a new unit.
        if (t.promptTokens[prev] % 16 !== 0) expect(hashes(next)[kept]).not.toBe(hashes(prev)[kept]);
        followUps++;
      }
    }
    expect(sessions.size).toBeGreaterThan(200);
    expect(followUps).toBeGreaterThan(400);
  });

  it('names a bad sessions key or value', () => {
    expect(() => parseSyntheticSpec('sessions:rate=1,duration=10,turn=3')).toThrow(/unknown key "turn".*valid keys for sessions: rate, duration, seed, turns, think/);
    expect(() => parseSyntheticSpec('sessions:rate=1,duration=10,hash_block=0')).toThrow(/hash_block must be an integer >= 1/);
    expect(() => parseSyntheticSpec('sessions:rate=1,duration=10,turns=0.5')).toThrow(/turns must be a number in \[1, 1000\]/);
  });
});
