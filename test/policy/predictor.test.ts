// The output-length predictors: exact recipes (docs/policies.md, "Predictors").
import { describe, expect, it } from 'vitest';
import { predictOutputs, predictor } from '../../src/policy/predictor/index.js';
import { makeTrace } from '../helpers.js';

const trace = makeTrace([[0, 1, 10], [0, 2, 20], [0, 3, 30], [0, 100, 40]]);
const predict = (name: string, params: Record<string, unknown>, seed = 0) => Array.from(predictOutputs(trace, predictor(name), predictor(name).params.parse(params), seed));

describe('predictors', () => {
  it('oracle returns the trace output lengths', () => {
    expect(predict('oracle', {})).toEqual([10, 20, 30, 40]);
  });

  it('bucket predicts the power-of-two prompt bucket mean of the training prefix, else the prefix mean', () => {
    // Training prefix: the first ceil(0.5 x 4) = 2 requests, prompts 1 (bucket [1,2)) and 2 (bucket [2,4)).
    // Prompt 3 shares bucket [2,4) with prompt 2: 20. Prompt 100 (bucket [64,128)) has no training request: (10 + 20) / 2 = 15.
    expect(predict('bucket', { trainFraction: 0.5 })).toEqual([10, 20, 20, 15]);
  });

  it('noisy is the oracle at sigma 0, seeded, and changes with the seed', () => {
    expect(predict('noisy', { sigma: 0 }, 7)).toEqual([10, 20, 30, 40]);
    expect(predict('noisy', { sigma: 1 }, 7)).toEqual(predict('noisy', { sigma: 1 }, 7));
    expect(predict('noisy', { sigma: 1 }, 7)).not.toEqual(predict('noisy', { sigma: 1 }, 8));
    for (const v of predict('noisy', { sigma: 3 }, 1)) expect(v).toBeGreaterThanOrEqual(1);
  });

  it('noisy errors are log-normal with the given sigma (median factor 1)', () => {
    const n = 4000;
    const big = makeTrace(Array.from({ length: n }, () => [0, 10, 1000] as [number, number, number]));
    const p = predictor('noisy');
    const logs = Array.from(predictOutputs(big, p, p.params.parse({ sigma: 0.5 }), 3), (v) => Math.log(v / 1000)).sort((a, b) => a - b);
    const mean = logs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(logs[n / 2])).toBeLessThan(0.05);
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.03);
  });

  it('rejects unknown predictors and bad parameters', () => {
    expect(() => predictor('psychic')).toThrow(/valid: oracle, noisy, bucket/);
    expect(predictor('bucket').params.safeParse({ trainFraction: 0 }).success).toBe(false);
  });
});
