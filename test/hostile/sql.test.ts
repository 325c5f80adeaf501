// Queries that try to escape the result set: read other files, write anywhere, replace the result
// files, run a second statement, undo the sandbox. Each must exit 2 and leave every file untouched.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSweep } from '../../src/sweep/sweep.js';
import { cli } from '../cli-helper.js';
import { AZURE, expectUserError, snapshot } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'schedlab-sql-'));
const dir = join(work, 'results');
const outside = join(work, 'outside');

beforeAll(async () => {
  const spec = join(work, 'spec.yaml');
  writeFileSync(spec, `traces:\n  t: { path: ${AZURE} }\nfixed: { window.duration: 20 }\ngrid:\n  router: [round-robin, least-kv]\n`);
  await runSweep(spec, { out: dir, engine: 'cpu', threads: 1, progress: 'none' });
});

const attacks: [string, string, RegExp][] = [
  ['reads another file', `SELECT * FROM read_csv_auto('/etc/passwd')`, /Permission Error.*files, network and extensions are off/],
  ['reads text', `SELECT * FROM read_text('/etc/passwd')`, /Permission Error/],
  ['reads bytes', `SELECT * FROM read_blob('/etc/passwd')`, /Permission Error/],
  ['lists files', `SELECT * FROM glob('/etc/*')`, /Permission Error/],
  ['reads the result file directly', `SELECT * FROM read_parquet('RESULTS/results.parquet')`, /Permission Error/],
  ['writes anywhere', `COPY (SELECT 1 AS a) TO 'OUTSIDE/pwned.csv'`, /Permission Error/],
  ['creates a database', `ATTACH 'OUTSIDE/evil.duckdb' AS e`, /only a query may run/],
  ['replaces the result set', `COPY (SELECT 'gone' AS x) TO 'RESULTS/results.parquet' (FORMAT csv)`, /Permission Error/],
  ['rewrites the CSV', `COPY results TO 'RESULTS/results.csv'`, /Permission Error/],
  ['exports the database', `EXPORT DATABASE 'OUTSIDE/export'`, /Permission Error|only a query may run/],
  ['runs a second statement', `SELECT 1 AS a; COPY (SELECT 42) TO 'OUTSIDE/second.csv'`, /exactly one statement, found 2/],
  ['hides a second statement after a comment', `SELECT 1 /* x */; ATTACH 'OUTSIDE/x.duckdb'`, /exactly one statement/],
  ['lifts the sandbox', `SET enable_external_access = true`, /only a query may run/],
  ['unlocks the configuration', `RESET lock_configuration`, /only a query may run/],
  ['installs an extension', `INSTALL httpfs`, /only a query may run|Permission Error/],
  ['loads an extension', `LOAD httpfs`, /only a query may run|Permission Error/],
  ['changes the table', `DELETE FROM results`, /only a query may run/],
  ['creates a table', `CREATE TABLE x AS SELECT 1`, /only a query may run/],
  ['sends nothing', `   `, /the query is empty/],
];

describe('schedlab query stays inside the result set', () => {
  it.each(attacks)('%s: exit 2, files untouched', async (_what, template, message) => {
    const sql = template.replace(/RESULTS/g, dir).replace(/OUTSIDE/g, outside);
    const before = snapshot(work);
    expectUserError(await cli('query', dir, sql), message);
    expect(snapshot(work)).toEqual(before);
    expect(existsSync(outside)).toBe(false);
  });

  it('still answers queries over results, and best and report still work afterwards', async () => {
    const r = await cli('query', dir, 'SELECT count(*) AS n FROM results', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual([{ n: 2 }]);
    // a constraint cannot smuggle SQL: its value becomes a quoted string
    const b = await cli('best', dir, '--objective', 'ttft_ms_p99', '--constraint', "router = x'; COPY (SELECT 1) TO '" + join(outside, 'b.csv'), '--json');
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out)).toEqual([]);
    expect((await cli('report', dir, '--out', join(work, 'r.html'))).code).toBe(0);
    expect(readdirSync(work).sort()).toEqual(['r.html', 'results', 'spec.yaml']);
  });
});
