// Result sets that must not silently mix or lose work: resuming with another spec or a changed
// trace, merging into a shard or a non-empty directory, damaged or replaced result files.
import { appendFileSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../cli-helper.js';
import { AZURE, expectUserError, snapshot } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'schedlab-results-'));
const trace = join(work, 'trace.csv');
const specA = join(work, 'a.yaml');
const specB = join(work, 'b.yaml');
const sweep = (spec: string, out: string, ...more: string[]) => cli('sweep', spec, '--out', out, '--engine', 'cpu', '--threads', '1', ...more);

beforeAll(() => {
  copyFileSync(AZURE, trace);
  const body = (rates: string) => `traces:\n  t: { path: ${trace} }\nfixed: { window.duration: 10 }\ngrid:\n  router: [round-robin, least-kv]\n  rateScale: [${rates}]\n`;
  writeFileSync(specA, body('1, 2'));
  writeFileSync(specB, body('1, 4'));
});

describe('resume refuses what would mix two sweeps', () => {
  it('another spec', async () => {
    const dir = join(work, 'other-spec');
    expect((await sweep(specA, dir, '--max-configs', '2')).code).toBe(0);
    const before = snapshot(dir);
    expectUserError(await sweep(specB, dir, '--resume'), /holds a sweep of another spec .*spec hash [0-9a-f]+\); sweep spec .*b\.yaml hashes to [0-9a-f]+/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a trace whose content changed (the path is the same)', async () => {
    const dir = join(work, 'changed-trace');
    expect((await sweep(specA, dir, '--max-configs', '1')).code).toBe(0);
    const original = readFileSync(trace);
    appendFileSync(trace, '2023-11-16 19:14:09.0,5,5\n');
    try {
      expectUserError(await sweep(specA, dir, '--resume'), /trace t \(.*trace\.csv\) changed since .* was started \(content SHA-256 [0-9a-f]{12}… then, [0-9a-f]{12}… now\)/);
    } finally {
      writeFileSync(trace, original);
    }
    expect((await sweep(specA, dir, '--resume')).code).toBe(0);
  });

  it('a directory with a journal but without --resume, or with files of its own', async () => {
    const dir = join(work, 'no-resume');
    expect((await sweep(specA, dir, '--max-configs', '1')).code).toBe(0);
    expectUserError(await sweep(specA, dir), /already holds a sweep; pass --resume/);
    const foreign = join(work, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    expectUserError(await sweep(specA, foreign), /holds files a sweep did not write \(notes\.txt\)/);
  });
});

describe('merge', () => {
  const shards = [0, 1].map((i) => join(work, `shard-${i}`));
  beforeAll(async () => {
    for (const [i, dir] of shards.entries()) expect((await sweep(specA, dir, '--shard', `${i}/2`)).code).toBe(0);
  });

  it('refuses an output that is a shard, inside a shard, or not empty', async () => {
    const before = snapshot(shards[0]);
    expectUserError(await cli('merge', ...shards, '--out', shards[0]), /--out .*shard-0 is the shard directory/);
    expectUserError(await cli('merge', ...shards, '--out', join(shards[0], 'merged')), /lies inside the shard directory/);
    const full = join(work, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'x'), '');
    expectUserError(await cli('merge', ...shards, '--out', full), /is not empty; merge into a new or empty directory/);
    expect(snapshot(shards[0])).toEqual(before);
  });

  it('refuses shards that ran on different trace content', async () => {
    const copy = join(work, 'shard-1-other-trace');
    cpSync(shards[1], copy, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
    manifest.trace_sha256.t = '0'.repeat(64);
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
    expectUserError(await cli('merge', shards[0], copy, '--out', join(work, 'mixed')), /ran on other content of trace t/);
  });

  it('merges complete shards into a new directory', async () => {
    const r = await cli('merge', ...shards, '--out', join(work, 'merged'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/merge: 4 rows from 2 shard\(s\)/);
  });
});

describe('damaged result files', () => {
  it('a truncated or replaced results.parquet is named as damaged (exit 2) by query, best and report; --resume rewrites it', async () => {
    const dir = join(work, 'damaged');
    expect((await sweep(specA, dir)).code).toBe(0);
    truncateSync(join(dir, 'results.parquet'), 100);
    const damaged = /results\.parquet is damaged or not a Parquet file \(.*\); if journal\.jsonl is intact, schedlab sweep SPEC --out .* --resume writes the result files again/;
    expectUserError(await cli('query', dir, 'SELECT 1'), damaged);
    expectUserError(await cli('best', dir, '--objective', 'ttft_ms_p99'), damaged);
    expectUserError(await cli('report', dir), damaged);
    // a valid Parquet file with other columns than the manifest's (what COPY ... TO results.parquet used to leave)
    const small = join(work, 'other-columns');
    expect((await cli('sweep', specA, '--out', small, '--engine', 'cpu', '--threads', '1')).code).toBe(0);
    const m = JSON.parse(readFileSync(join(small, 'manifest.json'), 'utf8'));
    m.columns = m.columns.slice(1);
    writeFileSync(join(small, 'manifest.json'), JSON.stringify(m));
    expectUserError(await cli('query', small, 'SELECT 1'), /does not hold this result set's columns .*damaged or replaced/);
    const r = await sweep(specA, dir, '--resume');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/4 configurations \(0 run, 4 from the journal\)/);
    expect((await cli('query', dir, 'SELECT count(*) AS n FROM results', '--json')).out).toContain('"n": 4');
  });

  it('a result set of the older format (keyed by trace path) is read, but not resumed or merged', async () => {
    const dir = join(work, 'format-1');
    expect((await sweep(specA, dir)).code).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, schedlab_sweep: 1, trace_sha256: undefined }));
    expect((await cli('query', dir, 'SELECT count(*) AS n FROM results', '--json')).out).toContain('"n": 4');
    expectUserError(await sweep(specA, dir, '--resume'), /written by another schedlab version \(result format 1, this one resumes and merges format 2\)/);
    expectUserError(await cli('merge', dir, '--out', join(work, 'format-1-merged')), /result format 1/);
  });

  it('a damaged manifest is named, not a stack trace', async () => {
    const dir = join(work, 'bad-manifest');
    expect((await sweep(specA, dir)).code).toBe(0);
    writeFileSync(join(dir, 'manifest.json'), '{"schedlab_sweep": 2, "colu');
    expectUserError(await cli('query', dir, 'SELECT 1'), /manifest\.json: damaged \(.*\); not a readable sweep manifest/);
  });
});
