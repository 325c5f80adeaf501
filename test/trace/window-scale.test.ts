import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/trace/readers.js';
import { scaleTrace, traceLength, windowTrace, type Trace } from '../../src/trace/trace.js';

const t: Trace = {
  name: 'w',
  source: 'test',
  arrivalUs: Float64Array.from([0, 1_000_000, 2_000_000, 2_500_000, 5_000_000]),
  promptTokens: Uint32Array.from([1, 2, 3, 4, 5]),
  outputTokens: Uint32Array.from([10, 20, 30, 40, 50]),
  prefixHashes: Uint32Array.from([7, 8, 7, 9, 7, 8, 1, 2]),
  prefixOffsets: Uint32Array.from([0, 2, 4, 5, 6, 8]),
  skippedRows: 3,
};
const arr = (a: ArrayLike<number> | undefined) => Array.from(a ?? []);

describe('windowTrace', () => {
  it('keeps [start, start + duration) of original time, re-based to the window start', () => {
    const w = windowTrace(t, 1, 1.5);
    expect(arr(w.arrivalUs)).toEqual([0, 1_000_000]);
    expect(arr(w.promptTokens)).toEqual([2, 3]);
    expect(arr(w.outputTokens)).toEqual([20, 30]);
    expect(w.skippedRows).toBe(3);
  });

  it('re-bases to the window start, not to the first request inside it', () => {
    expect(arr(windowTrace(t, 0.5, 2).arrivalUs)).toEqual([500_000, 1_500_000]);
  });

  it('slices prefix hashes and re-bases their offsets', () => {
    const w = windowTrace(t, 1, 2);
    expect(arr(w.prefixOffsets)).toEqual([0, 2, 3, 4]);
    expect(arr(w.prefixHashes)).toEqual([7, 9, 7, 8]);
  });

  it('defaults to the whole trace; an empty window is empty', () => {
    expect(arr(windowTrace(t).arrivalUs)).toEqual(arr(t.arrivalUs));
    expect(traceLength(windowTrace(t, 6))).toBe(0);
    expect(arr(windowTrace(t, 6).prefixOffsets)).toEqual([0]);
  });

  it('on the bundled Mooncake sample, keeps hashes aligned with requests', () => {
    const m = loadTrace(new URL('../../traces/mooncake-conversation-10min.jsonl', import.meta.url).pathname);
    const w = windowTrace(m, 60, 120);
    expect(w.arrivalUs.length).toBeGreaterThan(0);
    for (let i = 0; i < w.arrivalUs.length; i++) {
      expect(w.prefixOffsets![i + 1] - w.prefixOffsets![i]).toBe(Math.ceil(w.promptTokens[i] / 512));
      expect(w.arrivalUs[i]).toBeGreaterThanOrEqual(0);
      expect(w.arrivalUs[i]).toBeLessThan(120_000_000);
    }
  });
});

describe('scaleTrace', () => {
  it('arrival\' = floor(arrival / rateScale)', () => {
    expect(arr(scaleTrace(t, 2).arrivalUs)).toEqual([0, 500_000, 1_000_000, 1_250_000, 2_500_000]);
    const odd: Trace = { ...t, arrivalUs: Float64Array.from([0, 1, 2, 1_000_001]) };
    expect(arr(scaleTrace(odd, 3).arrivalUs)).toEqual([0, 0, 0, 333_333]);
    expect(arr(scaleTrace(odd, 0.5).arrivalUs)).toEqual([0, 2, 4, 2_000_002]);
  });

  it('leaves lengths alone; scale 1 is the identity; bad scales throw', () => {
    expect(scaleTrace(t, 4).promptTokens).toBe(t.promptTokens);
    expect(scaleTrace(t, 1)).toBe(t);
    for (const bad of [0, -1, NaN, Infinity]) expect(() => scaleTrace(t, bad)).toThrow(/rate scale/);
  });

  it('window then scale, as the CLI prepares a trace', () => {
    expect(arr(scaleTrace(windowTrace(t, 1, 4), 2).arrivalUs)).toEqual([0, 500_000, 750_000]);
  });
});
