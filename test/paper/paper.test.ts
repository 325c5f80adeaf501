// `schedlab paper`: the claim arithmetic, the experiment specs, and the --quick run as the README prints it.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS, outcome, verdict, type Point } from '../../src/paper/claims.js';
import { paperExperiments } from '../../src/paper/experiments.js';
import { SCHEDULER_NAMES } from '../../src/policy/engine/index.js';
import { ROUTER_NAMES } from '../../src/policy/router/index.js';
import { expandSpec } from '../../src/sweep/expand.js';
import { validateSpec } from '../../src/sweep/spec.js';
import { cli } from '../cli-helper.js';

const point = (o: Point['outcome']): Point => ({ rateScale: 1, candidate: 0, baseline: 0, outcome: o });

describe('claims', () => {
  it('compares with the metric\'s direction and tolerance', () => {
    expect(outcome(99, 100, METRICS.ttftP50)).toBe('equal'); // within 1%
    expect(outcome(98, 100, METRICS.ttftP50)).toBe('better');
    expect(outcome(102, 100, METRICS.ttftP50)).toBe('worse');
    expect(outcome(1006, 1000, METRICS.throughput)).toBe('better'); // higher is better, 0.5% tolerance
    expect(outcome(1004, 1000, METRICS.throughput)).toBe('equal');
    expect(outcome(1, 0, METRICS.preemptions)).toBe('worse'); // exact for counts
  });

  it('says a claim holds only when better somewhere and worse nowhere', () => {
    expect(verdict([point('better'), point('equal')])).toMatch(/^holds \(better at 1, equal at 1, worse at 0 of 2 loads\)/);
    expect(verdict([point('worse'), point('equal')])).toMatch(/^does not hold/);
    expect(verdict([point('better'), point('worse')])).toMatch(/^mixed/);
    expect(verdict([point('equal')])).toMatch(/^no difference/);
  });
});

describe('experiments', () => {
  it('are valid sweep specs covering every scheduler on one replica and every router in the full run', () => {
    for (const quick of [true, false]) {
      for (const e of paperExperiments(quick)) {
        const exp = expandSpec(validateSpec(e.spec));
        const names = new Set(exp.configs.map((c) => (e.part === 'engine' ? c.columns.scheduler : c.columns.router)));
        if (e.part === 'engine') expect([...names].sort()).toEqual([...SCHEDULER_NAMES].sort());
        if (e.part === 'routers' && !quick) expect([...names].sort()).toEqual([...ROUTER_NAMES].sort());
        for (const c of exp.configs) expect(c.lane.replicas).toBe(e.replicas);
      }
    }
  });
});

describe('schedlab paper --quick', () => {
  it('runs, writes a report per experiment and the verdict, and prints the claims with numbers', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'schedlab-paper-')), 'quick');
    const r = await cli('paper', '--quick', '--out', out, '--engine', 'cpu');
    expect(r.code, r.err).toBe(0);
    for (const e of paperExperiments(true)) expect(existsSync(join(out, e.name, 'report.html'))).toBe(true);
    const md = readFileSync(join(out, 'verdict.md'), 'utf8');
    expect(md).toContain('LARRY vs vLLM FCFS, load by load');
    expect(r.out).toMatch(/LARRY beats the baseline on TTFT p50 \(ms\): holds against \d+ of 9/);
    expect(r.out).toMatch(/SAL beats the baseline on output tokens\/s: holds against \d+ of 6/);
    const json = JSON.parse(readFileSync(join(out, 'verdict.json'), 'utf8'));
    expect(json.comparisons.length).toBeGreaterThan(0);
    // A second run into the same directory needs --resume.
    expect((await cli('paper', '--quick', '--out', out, '--engine', 'cpu')).code).toBe(2);
  });
});
