import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEDULER_NAMES } from '../src/policy/engine/index.js';
import { PREDICTOR_NAMES } from '../src/policy/predictor/index.js';
import { ROUTER_NAMES } from '../src/policy/router/index.js';
import { cli } from './cli-helper.js';

describe('schedlab run', () => {
  it('loads none of the packages other commands use (DuckDB, Vega, yaml, the fitter, WebGPU)', () => {
    const log = join(mkdtempSync(join(tmpdir(), 'schedlab-')), 'imports.txt');
    const root = join(__dirname, '..');
    const r = spawnSync(process.execPath, ['--import', './test/fixtures/import-log/register.mjs', 'bin/schedlab.js', 'run', '--duration', '1'], {
      cwd: root,
      env: { ...process.env, SCHEDLAB_IMPORT_LOG: log },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(log)).toBe(true);
    const loaded = readFileSync(log, 'utf8').split('\n').filter((u) => u);
    expect(loaded.length).toBeGreaterThan(10);
    expect(loaded.filter((u) => /duckdb|vega|\/yaml\/|ml-fcnnls|ml-matrix|webgpu|playwright/.test(u))).toEqual([]);
  });

  it('prints the documented JSON fields', async () => {
    const { code, out } = await cli('run', '--duration', '120', '--replicas', '2', '--router', 'least-kv', '--scheduler', 'chunked-prefill', '--max-batched-tokens', '1024', '--json');
    expect(code).toBe(0);
    const r = JSON.parse(out);
    for (const f of ['completed', 'rejected', 'preemptions', 'preempted_requests', 'throughput', 'kv_utilization', 'config', 'engine', 'slo']) expect(r).toHaveProperty(f);
    for (const m of ['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_ms']) expect(Object.keys(r[m])).toEqual(expect.arrayContaining(['mean', 'p50', 'p90', 'p99', 'max']));
    expect(r.completed + r.rejected).toBe(r.config.trace.requests);
    expect(r.config.scheduler).toEqual({ name: 'chunked-prefill', params: { watermarkPermille: 0 } });
    expect(r.config.profile.maxBatchedTokens).toBe(1024);
    expect(r.engine.engine).toBe('cpu');
  });

  it('is reproducible from its own config', async () => {
    const args = ['run', '--duration', '60', '--replicas', '3', '--router', 'random', '--seed', '9', '--json'];
    const a = JSON.parse((await cli(...args)).out);
    const b = JSON.parse((await cli(...args)).out);
    delete a.engine.wall_s;
    delete b.engine.wall_s;
    expect(a).toEqual(b);
  });

  it('writes per-request rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedlab-'));
    const file = join(dir, 'rows.csv');
    const { code } = await cli('run', '--duration', '30', '--per-request', file);
    expect(code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('request,arrival_us,replica,prompt_tokens,output_tokens,status,first_token_us,finish_us,preemptions');
    expect(lines.length).toBeGreaterThan(10);
    expect(lines[1].split(',')[5]).toBe('done');
  });

  it('caches prefixes with --prefix-cache on: hit rates in the JSON, lower TTFT than off (Mooncake, prefix-affinity)', async () => {
    const args = ['run', '--trace', 'traces/mooncake-conversation-10min.jsonl', '--duration', '300', '--router', 'prefix-affinity', '--json'];
    const on = JSON.parse((await cli(...args, '--prefix-cache', 'on')).out);
    const off = JSON.parse((await cli(...args)).out);
    expect(on.config.prefix_cache).toBe('on');
    expect(off.config.prefix_cache).toBe('off');
    expect(on.prefix_cache.hit_tokens).toBeGreaterThan(0);
    expect(on.prefix_cache.hit_rate_tokens).toBeCloseTo(on.prefix_cache.hit_tokens / on.prefix_cache.lookup_tokens, 12);
    expect(on.prefix_cache.lookups).toBe(on.completed);
    expect(off.prefix_cache).toEqual({ lookups: 0, hits: 0, hit_rate_requests: 0, lookup_tokens: 0, hit_tokens: 0, hit_rate_tokens: 0, evicted_blocks: 0 });
    expect(on.ttft_ms.mean).toBeLessThan(off.ttft_ms.mean);
    expect(on.ttft_ms.p50).toBeLessThan(off.ttft_ms.p50);
  });

  it('adds cached_tokens to the per-request rows with --prefix-cache on', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'schedlab-')), 'rows.csv');
    const { code } = await cli('run', '--trace', 'sessions:rate=1,duration=60,seed=2', '--prefix-cache', 'on', '--per-request', file);
    expect(code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('request,arrival_us,replica,prompt_tokens,output_tokens,status,first_token_us,finish_us,preemptions,cached_tokens');
    expect(lines.slice(1).some((l) => Number(l.split(',')[9]) > 0)).toBe(true);
  });

  it('exits 2 when --prefix-cache on meets a trace without prefix hashes', async () => {
    const r = await cli('run', '--duration', '30', '--prefix-cache', 'on');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/prefix caching is on but trace azure-conv-2023.csv has no prefix hashes/);
  });

  it('exits 2 and lists valid names for an unknown router or scheduler', async () => {
    const r = await cli('run', '--router', 'nope');
    expect(r.code).toBe(2);
    expect(r.err).toContain('round-robin, random, least-outstanding, power-of-two, least-kv');
    const s = await cli('run', '--scheduler', 'fifo');
    expect(s.code).toBe(2);
    expect(s.err).toContain('vllm-fcfs, chunked-prefill, sjf');
    // Every registered name is listed, new ones included.
    expect(r.err).toContain(ROUTER_NAMES.join(', '));
    expect(s.err).toContain(SCHEDULER_NAMES.join(', '));
    const p = await cli('run', '--predictor', 'psychic');
    expect(p.code).toBe(2);
    expect(p.err).toContain(PREDICTOR_NAMES.join(', '));
  });

  it('exits 2 naming the file and line of a malformed trace row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedlab-'));
    const file = join(dir, 'bad.csv');
    writeFileSync(file, 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.0000000,abc,10\n');
    const r = await cli('run', '--trace', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain('bad.csv');
    expect(r.err).toContain('line 3');
    const skipped = await cli('run', '--trace', file, '--skip-bad-rows', '--json');
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.out).config.trace.skipped_rows).toBe(1);
  });

  it('exits 2 on impossible configurations', async () => {
    const r = await cli('run', '--scheduler', 'vllm-fcfs', '--max-batched-tokens', '512');
    expect(r.code).toBe(2);
    expect(r.err).toContain('maxBatchedTokens');
    const p = await cli('run', '--scheduler-params', '{"watermarkPermille": 5000}');
    expect(p.code).toBe(2);
    expect(p.err).toContain('watermarkPermille');
    const n = await cli('run', '--replicas', 'zero');
    expect(n.code).toBe(2);
  });
});

describe('schedlab demo', () => {
  it('compares every scheduler behind least-outstanding and every router in front of vllm-fcfs and larry', async () => {
    const { code, out } = await cli('demo', '--duration', '60', '--engine', 'cpu', '--json');
    expect(code).toBe(0);
    const r = JSON.parse(out);
    // Derived from the registries (the demo once ran every pair: 15 when there were 5 routers x 3 schedulers).
    const pairs = SCHEDULER_NAMES.length + 2 * (ROUTER_NAMES.length - 1);
    expect(r.rows).toHaveLength(pairs);
    expect(new Set(r.rows.map((x: { router: string; scheduler: string }) => `${x.router}/${x.scheduler}`)).size).toBe(pairs);
    for (const s of SCHEDULER_NAMES) expect(r.rows.some((x: { router: string; scheduler: string }) => x.scheduler === s)).toBe(true);
    for (const name of ROUTER_NAMES) expect(r.rows.some((x: { router: string; scheduler: string }) => x.router === name)).toBe(true);
    expect(r.backend.engine).toBe('cpu');
    for (const row of r.rows) expect(row.summary.completed + row.summary.rejected).toBe(r.trace.requests);
  });
});
