import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/model/profile.js';
import { expandSpec } from '../../src/sweep/expand.js';
import { validateSpec } from '../../src/sweep/spec.js';

const traces = { azure: { path: '../../traces/azure-conv-2023.csv', format: 'azure' } };

function errorOf(raw: unknown): string {
  try {
    expandSpec(validateSpec(raw, __dirname));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('sweep spec validation', () => {
  it('names an unknown top-level key and the valid keys', () => {
    const m = errorOf({ traces, grdi: {} });
    expect(m).toContain('"grdi"');
    expect(m).toContain('valid keys: version, name, description, traces, fixed, grid, sample, rules, invalid');
  });

  it('names an unknown parameter with its path and lists the valid parameters', () => {
    const m = errorOf({ traces, grid: { routr: ['random'] } });
    expect(m).toContain('grid.routr');
    expect(m).toMatch(/valid parameters: trace, window\.start, .*router, .*scheduler\.watermarkPermille/);
  });

  it('names a bad value by key path and index, with the valid choices', () => {
    const m = errorOf({ traces, grid: { router: ['round-robin', 'fastest'] } });
    expect(m).toContain('grid.router[1]');
    expect(m).toContain('least-kv');
    expect(errorOf({ traces, fixed: { scheduler: 'fifo' } })).toMatch(/fixed\.scheduler: .*vllm-fcfs.*chunked-prefill.*sjf/);
    expect(errorOf({ traces, fixed: { 'profile': 'gpt5' } })).toMatch(/fixed\.profile: .*llama3-8b-h100/);
  });

  it('checks nested keys, ranges and sample settings', () => {
    expect(errorOf({ traces: { azure: { path: 'x.csv', fromat: 'azure' } } })).toMatch(/traces\.azure: unknown key "fromat"; valid keys: path, format, skipBadRows/);
    expect(errorOf({ traces: { azure: { path: 'x.csv', format: 'parquet' } } })).toMatch(/traces\.azure\.format: .*azure.*burstgpt/);
    expect(errorOf({ traces, sample: { method: 'sobol', count: 4, axes: {} } })).toMatch(/sample\.method: .*random.*lhs/);
    expect(errorOf({ traces, sample: { method: 'lhs', count: 4, axes: { replicas: { min: 8, max: 2 } } } })).toContain('sample.axes.replicas.max');
    expect(errorOf({ traces, sample: { method: 'lhs', count: 4, axes: { replicas: { min: 1, max: 2000 } } } })).toMatch(/sample\.axes\.replicas\.max: .*1\.\.1024/);
    expect(errorOf({ traces, grid: { router: { min: 1, max: 2, step: 1 } } })).toMatch(/grid\.router: a \{min, max\} range needs a numeric parameter/);
    expect(errorOf({ traces, grid: { replicas: { min: 1, max: 4 } } })).toMatch(/grid\.replicas: a grid range needs step or count/);
    expect(errorOf({ traces, fixed: { replicas: 2 }, grid: { replicas: [1, 2] } })).toMatch(/grid\.replicas: "replicas" is also in fixed/);
    expect(errorOf({ traces, rules: [{ when: { schedulr: 'sjf' }, set: {} }] })).toContain('rules[0].when.schedulr');
    expect(errorOf({ traces, fixed: { 'profile.kvBlocks': 0 } })).toContain('fixed.profile.kvBlocks');
    expect(errorOf({ traces, fixed: { 'profile.iterationNs.bse': 1 } })).toContain('profile.iterationNs.base');
  });

  it('rejects an invalid configuration by default, naming it, and skips it on request', () => {
    const raw = { traces, fixed: { 'profile.maxBatchedTokens': 2048 }, grid: { scheduler: ['chunked-prefill', 'vllm-fcfs'] } };
    const m = errorOf(raw);
    expect(m).toContain('configuration #1 (scheduler=vllm-fcfs)');
    expect(m).toContain('maxBatchedTokens');
    const exp = expandSpec(validateSpec({ ...raw, invalid: 'skip' }, __dirname));
    expect(exp.generated).toBe(2);
    expect(exp.configs.map((c) => c.index)).toEqual([0]);
    expect(exp.skipped).toBe(1);
  });

  it('needs a trace choice when the spec names several', () => {
    const m = errorOf({ traces: { a: { path: 'a.csv' }, b: { path: 'b.csv' } } });
    expect(m).toMatch(/fixed\.trace: .*valid: a, b/);
  });
});
