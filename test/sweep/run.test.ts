// Runs a tiny sweep on the CPU engine: single run vs shards + merge, resume, query/best/pareto.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { best, query } from '../../src/sweep/best.js';
import { mergeShards } from '../../src/sweep/merge.js';
import { readAllRows } from '../../src/sweep/database.js';
import { readJournal, readManifest } from '../../src/sweep/results.js';
import { runSweep } from '../../src/sweep/sweep.js';

const root = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'schedlab-sweep-'));
const specPath = join(work, 'tiny.yaml');
writeFileSync(
  specPath,
  `name: tiny
traces:
  azure: { path: ${join(root, 'traces/azure-conv-2023.csv')}, format: azure }
fixed:
  window.duration: 20
  profile.kvBlocks: 600
grid:
  router: [round-robin, least-kv]
  scheduler: [vllm-fcfs, sjf]
  rateScale: [1, 6]
sample:
  method: lhs
  count: 2
  seed: 1
  axes:
    replicas: { min: 1, max: 2 }
`,
);
const quiet = { engine: 'cpu' as const, progress: 'none' as const };

describe('sweep runs, shards, merge and resume', () => {
  const single = join(work, 'single');
  beforeAll(async () => {
    const r = await runSweep(specPath, { ...quiet, out: single, threads: 2 });
    expect(r).toMatchObject({ complete: true, rows: 16, ran: 16, reused: 0 });
  });

  it('writes one row per configuration with every parameter and metric, as CSV and Parquet', async () => {
    const { columns, rows } = await readAllRows(single);
    expect(rows).toHaveLength(16);
    expect(rows.map((r) => r.config_index)).toEqual([...Array(16).keys()]);
    for (const c of ['router', 'scheduler', 'scheduler_watermark_permille', 'rate_scale', 'replicas', 'kv_blocks', 'iteration_ns_base', 'seed', 'slo_ttft_ms', 'ttft_ms_p99', 'tpot_ms_p99', 'e2e_ms_mean', 'throughput_output_tokens_per_s', 'kv_utilization_mean', 'preemptions', 'engine', 'fallback']) {
      expect(columns).toContain(c);
    }
    expect(rows.every((r) => r.engine === 'cpu' && (r.requests as number) > 0)).toBe(true);
    const csv = readFileSync(join(single, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(17);
    expect(csv[0].split(',')).toEqual(columns);
    expect(readdirNoTmp(single)).toEqual(['journal.jsonl', 'manifest.json', 'results.csv', 'results.parquet']);
  });

  it('shards then merge give the single-machine result set, row for row', async () => {
    const shards = [0, 1, 2].map((i) => join(work, `shard-${i}`));
    for (const [i, dir] of shards.entries()) {
      const r = await runSweep(specPath, { ...quiet, out: dir, shard: `${i}/3`, threads: 1 });
      expect(r.complete).toBe(true);
      expect(readManifest(dir).shard).toEqual({ index: i, count: 3 });
    }
    expect((await readAllRows(shards[1])).rows.map((r) => r.config_index)).toEqual([1, 4, 7, 10, 13]);
    const merged = join(work, 'merged');
    await mergeShards([shards[2], shards[0], shards[1]], merged);
    expect(readFileSync(join(merged, 'results.csv'), 'utf8')).toBe(readFileSync(join(single, 'results.csv'), 'utf8'));
    expect((await readAllRows(merged)).rows).toEqual((await readAllRows(single)).rows);
    await expect(mergeShards([shards[0], shards[1]], join(work, 'bad'))).rejects.toThrow(/missing shard\(s\) 2\/3/);
  });

  it('resume runs only the configurations missing from the journal', async () => {
    const dir = join(work, 'resumed');
    const first = await runSweep(specPath, { ...quiet, out: dir, threads: 1, batch: 2, maxConfigs: 5 });
    expect(first).toMatchObject({ complete: false, ran: 5 });
    expect(readJournal(dir).size).toBe(5);
    expect(existsSync(join(dir, 'results.csv'))).toBe(false);
    await expect(runSweep(specPath, { ...quiet, out: dir })).rejects.toThrow(/--resume/);
    // a line cut short by a kill is ignored and that configuration is run again
    writeFileSync(join(dir, 'journal.jsonl'), readFileSync(join(dir, 'journal.jsonl'), 'utf8') + '{"id":"abc","row":{"config_in');
    const second = await runSweep(specPath, { ...quiet, out: dir, threads: 1, resume: true });
    expect(second).toMatchObject({ complete: true, ran: 11, reused: 5, rows: 16 });
    expect(readFileSync(join(dir, 'results.csv'), 'utf8')).toBe(readFileSync(join(single, 'results.csv'), 'utf8'));
    const third = await runSweep(specPath, { ...quiet, out: dir, resume: true });
    expect(third).toMatchObject({ complete: true, ran: 0, reused: 16 });
  });

  it('query runs SQL over the results table', async () => {
    const r = await query(single, 'SELECT router, COUNT(*) AS n, MAX(ttft_ms_p99) AS worst FROM results GROUP BY router ORDER BY router');
    expect(r.columns).toEqual(['router', 'n', 'worst']);
    expect(r.rows.map((x) => [x.router, x.n])).toEqual([['least-kv', 8], ['round-robin', 8]]);
    await expect(query(single, 'SELECT nope FROM results')).rejects.toThrow(/SQL: .*nope/);
  });

  it('best minimises an objective under constraints, ties by config index', async () => {
    const { rows: all } = await readAllRows(single);
    const feasible = all.filter((r) => (r.ttft_ms_p99 as number) <= 2000 && (r.tpot_ms_p99 as number) <= 100);
    const r = await best(single, { objective: 'replicas:min', constraint: ['ttft_ms_p99 <= 2000', 'tpot_ms_p99<=100'], limit: 100 });
    expect(r.feasible).toBe(feasible.length);
    expect(r.total).toBe(16);
    const expected = [...feasible].sort((a, b) => (a.replicas as number) - (b.replicas as number) || (a.config_index as number) - (b.config_index as number));
    expect(r.rows.map((x) => x.config_index)).toEqual(expected.map((x) => x.config_index));
    expect(r.columns).toEqual(expect.arrayContaining(['config_index', 'replicas', 'ttft_ms_p99', 'tpot_ms_p99']));
    await expect(best(single, { objective: 'ttft_p99' })).rejects.toThrow(/unknown column "ttft_p99"; valid: .*ttft_ms_p99/);
    await expect(best(single, { objective: 'ttft_ms_p99', constraint: ['ttft_ms_p99 ~ 3'] })).rejects.toThrow(/expected "<column> <op> <value>"/);
  });

  it('pareto returns exactly the non-dominated configurations', async () => {
    const { rows: all } = await readAllRows(single);
    const r = await best(single, { pareto: 'throughput_output_tokens_per_s,ttft_ms_p99' });
    const dominated = (x: (typeof all)[number]) =>
      all.some((y) => (y.throughput_output_tokens_per_s as number) >= (x.throughput_output_tokens_per_s as number) && (y.ttft_ms_p99 as number) <= (x.ttft_ms_p99 as number) &&
        ((y.throughput_output_tokens_per_s as number) > (x.throughput_output_tokens_per_s as number) || (y.ttft_ms_p99 as number) < (x.ttft_ms_p99 as number)));
    const front = all.filter((x) => !dominated(x));
    const key = (x: Record<string, unknown>) => `${x.throughput_output_tokens_per_s}/${x.ttft_ms_p99}`;
    expect(new Set(r.rows.map(key))).toEqual(new Set(front.map(key)));
    expect(r.rows.length).toBeGreaterThan(0);
  });
});

describe('a sweep over the sessions workload with prefix caching', () => {
  it('runs a synthetic trace, reports hit rates where caching is on, and fails a cached configuration on a trace without hashes', async () => {
    const spec = join(work, 'sessions.yaml');
    writeFileSync(
      spec,
      `traces:
  sessions: { path: "sessions:rate=1,duration=60,seed=2" }
fixed: { replicas: 2, router: prefix-affinity }
grid:
  prefixCache: ["off", "on"]
`,
    );
    const out = join(work, 'sessions');
    await runSweep(spec, { ...quiet, out, threads: 1 });
    const { rows } = await readAllRows(out);
    expect(rows.map((r) => [r.prefix_cache, (r.prefix_cache_hit_rate_tokens as number) > 0])).toEqual([['off', false], ['on', true]]);
    expect(rows[1].ttft_ms_mean as number).toBeLessThan(rows[0].ttft_ms_mean as number);
    const azure = join(work, 'azure-cached.yaml');
    writeFileSync(azure, `traces:\n  azure: { path: ${join(root, 'traces/azure-conv-2023.csv')} }\nfixed: { window.duration: 10, prefixCache: "on" }\n`);
    await expect(runSweep(azure, { ...quiet, out: join(work, 'azure-cached'), threads: 1 })).rejects.toThrow(/configuration #0: prefixCache is on but trace azure has no prefix hashes/);
  });
});

function readdirNoTmp(dir: string): string[] {
  return readdirSync(dir).sort();
}
