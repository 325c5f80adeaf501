import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandSpec } from '../../src/sweep/expand.js';
import { loadSpec, validateSpec } from '../../src/sweep/spec.js';

const traces = { azure: { path: '../../traces/azure-conv-2023.csv', format: 'azure' } };
const expand = (raw: object) => expandSpec(validateSpec({ traces, ...raw }, __dirname));
const root = join(__dirname, '..', '..');

describe('sweep expansion', () => {
  it('grid: product of the axes, first axis slowest, ranges by step and count', () => {
    const exp = expand({
      grid: {
        router: ['round-robin', 'least-kv'],
        rateScale: { min: 1, max: 2, step: 0.5 },
        replicas: { min: 1, max: 8, count: 4, log: true },
      },
    });
    expect(exp.configs).toHaveLength(2 * 3 * 4);
    expect(exp.configs.slice(0, 5).map((c) => [c.columns.router, c.columns.rate_scale, c.columns.replicas])).toEqual([
      ['round-robin', 1, 1],
      ['round-robin', 1, 2],
      ['round-robin', 1, 4],
      ['round-robin', 1, 8],
      ['round-robin', 1.5, 1],
    ]);
    expect(exp.configs.map((c) => c.index)).toEqual([...Array(24).keys()]);
    expect(new Set(exp.configs.map((c) => c.id)).size).toBe(24);
  });

  it('random: count samples per grid point, deterministic under a seed, within range', () => {
    const spec = {
      grid: { scheduler: ['vllm-fcfs', 'sjf'] },
      sample: { method: 'random', count: 50, seed: 7, axes: { 'profile.kvBlocks': { min: 1000, max: 20000, log: true }, rateScale: { min: 0.5, max: 8 } } },
    };
    const a = expand(spec);
    const b = expand(spec);
    expect(a.configs).toHaveLength(100);
    expect(a.configs.map((c) => c.id)).toEqual(b.configs.map((c) => c.id));
    for (const c of a.configs) {
      expect(Number.isInteger(c.columns.kv_blocks)).toBe(true);
      expect(c.columns.kv_blocks as number).toBeGreaterThanOrEqual(1000);
      expect(c.columns.kv_blocks as number).toBeLessThanOrEqual(20000);
      expect(c.columns.rate_scale as number).toBeGreaterThanOrEqual(0.5);
      expect(c.columns.rate_scale as number).toBeLessThan(8);
    }
    // the same sample set under each grid point
    expect(a.configs.slice(0, 50).map((c) => c.columns.kv_blocks)).toEqual(a.configs.slice(50).map((c) => c.columns.kv_blocks));
    const other = expand({ ...spec, sample: { ...spec.sample, seed: 8 } });
    expect(other.configs.map((c) => c.id)).not.toEqual(a.configs.map((c) => c.id));
  });

  it('lhs: every stratum of every axis is hit exactly once', () => {
    const n = 64;
    const exp = expand({ sample: { method: 'lhs', count: n, seed: 3, axes: { 'window.start': { min: 0, max: 64 }, 'scheduler.watermarkPermille': { min: 0, max: 63 }, router: ['round-robin', 'random', 'least-kv', 'power-of-two'] } } });
    expect(exp.configs).toHaveLength(n);
    const rate = exp.configs.map((c) => Math.floor(c.columns.window_start_s as number)).sort((x, y) => x - y);
    expect(rate).toEqual([...Array(n).keys()]);
    const wm = exp.configs.map((c) => c.columns.scheduler_watermark_permille as number).sort((x, y) => x - y);
    expect(wm).toEqual([...Array(n).keys()]);
    const routers = exp.configs.map((c) => c.columns.router);
    for (const r of ['round-robin', 'random', 'least-kv', 'power-of-two']) expect(routers.filter((x) => x === r)).toHaveLength(16);
    expect(expand({ sample: { method: 'lhs', count: n, seed: 3, axes: { rateScale: { min: 0.1, max: 64 } } } }).configs.map((c) => c.id)).toEqual(
      expand({ sample: { method: 'lhs', count: n, seed: 3, axes: { rateScale: { min: 0.1, max: 64 } } } }).configs.map((c) => c.id),
    );
  });

  it('rules set parameters where they match, and policy parameters go only to policies that take them', () => {
    const exp = expand({
      grid: { scheduler: ['vllm-fcfs', 'chunked-prefill'] },
      fixed: { 'scheduler.watermarkPermille': 5 },
      rules: [{ when: { scheduler: 'chunked-prefill' }, set: { 'profile.maxBatchedTokens': 2048 } }],
    });
    expect(exp.configs.map((c) => c.lane.profile.maxBatchedTokens)).toEqual([16384, 2048]);
    expect(exp.configs.map((c) => c.lane.scheduler.params)).toEqual([{ watermarkPermille: 5 }, { watermarkPermille: 5 }]);
  });

  it('the shipped example specs expand to their advertised sizes', () => {
    expect(expandSpec(loadSpec(join(root, 'sweeps/smoke.yaml'))).configs.length).toBeLessThanOrEqual(64);
    const policies = expandSpec(loadSpec(join(root, 'sweeps/policies-vs-load.yaml')));
    expect(new Set(policies.configs.map((c) => `${c.columns.router}/${c.columns.scheduler}`)).size).toBe(15);
    expect(expandSpec(loadSpec(join(root, 'sweeps/tuning-4096.yaml'))).configs).toHaveLength(4096);
  });

  it('prefixCache: a column, and off leaves the configuration id what it was before the key existed', () => {
    const exp = expand({ grid: { prefixCache: ['off', 'on'] } });
    expect(exp.configs.map((c) => c.columns.prefix_cache)).toEqual(['off', 'on']);
    expect(exp.configs.map((c) => c.lane.prefixCache)).toEqual([undefined, 'on']);
    expect(exp.configs[0].id).toBe(expand({}).configs[0].id);
    expect(exp.configs[1].id).not.toBe(exp.configs[0].id);
  });
});
