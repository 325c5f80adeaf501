// `schedlab merge <shard-dir>... --out <dir>`: joins complete shard result sets of one spec into the
// result set a single machine would have written (same rows, same order, same files). The output
// must be a new or empty directory that is none of the shards (nor inside one); rows stream from
// the shards' Parquet files in config-index order, so merging holds one chunk of rows at a time.
import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ConfigError } from '../model/profile.js';
import { printable } from '../printable.js';
import { assertOutputDir, writeAtomic } from '../write-atomic.js';
import { lockDirectory } from './lock.js';
import { assertResumable, FILES, readManifest, sqlString, writeResults, type Manifest, type Row } from './results.js';

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function checkOutput(dirs: string[], out: string): void {
  const target = realOrResolved(out);
  for (const d of dirs) {
    const shard = realOrResolved(d);
    const rel = relative(shard, target);
    if (rel === '') throw new ConfigError(`merge: --out ${out} is the shard directory ${d}; write the merged set to a new directory`);
    if (!rel.startsWith('..') && !isAbsolute(rel)) throw new ConfigError(`merge: --out ${out} lies inside the shard directory ${d}; write the merged set elsewhere`);
  }
  assertOutputDir(out, '--out');
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new ConfigError(`merge: --out ${out} is not empty; merge into a new or empty directory (a merged set is never written over another result set)`);
  }
}

function checkShards(manifests: { dir: string; m: Manifest }[]): number {
  const first = manifests[0];
  const count = first.m.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const { dir, m } of manifests) {
    assertResumable(m, dir);
    if (m.spec_hash !== first.m.spec_hash) throw new ConfigError(`merge: ${dir} comes from a different spec than ${first.dir} (spec hash ${m.spec_hash} vs ${first.m.spec_hash})`);
    for (const [name, digest] of Object.entries(first.m.trace_sha256)) {
      if (m.trace_sha256[name] !== digest) {
        throw new ConfigError(`merge: ${dir} ran on other content of trace ${name} than ${first.dir} (SHA-256 ${m.trace_sha256[name]?.slice(0, 12) ?? '?'}… vs ${digest.slice(0, 12)}…); results of two traces cannot share one set`);
      }
    }
    const shardCount = m.shard?.count ?? 1;
    if (shardCount !== count) throw new ConfigError(`merge: ${dir} is one of ${shardCount} shards, ${first.dir} one of ${count}`);
    const index = m.shard?.index ?? 0;
    if (seen.has(index)) throw new ConfigError(`merge: ${dir} and ${seen.get(index)} are both shard ${index}/${count}`);
    seen.set(index, dir);
    if (!m.complete) throw new ConfigError(`merge: ${dir} (shard ${index}/${count}) is not complete (${m.rows}/${m.expected_rows} rows); finish it with schedlab sweep ... --shard ${index}/${count} --resume`);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new ConfigError(`merge: missing shard(s) ${missing.map((i) => `${i}/${count}`).join(', ')}`);
  return count;
}

/** Checks each shard's Parquet file against its manifest: readable, its columns, its own config indices, one row each. */
async function checkParquet(conn: DuckDBConnection, manifests: { dir: string; m: Manifest }[], count: number): Promise<void> {
  for (const { dir, m } of manifests) {
    const file = join(dir, FILES.parquet);
    const index = m.shard?.index ?? 0;
    let stats;
    try {
      const r = await conn.runAndReadAll(
        `SELECT count(*), count(DISTINCT config_index), count(*) FILTER (WHERE config_index % ${count} != ${index}) FROM read_parquet(${sqlString(file)})`,
      );
      stats = r.getRows()[0].map(Number);
      const names = (await conn.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(file)}) LIMIT 0`)).columnNames();
      if (names.join(',') !== m.columns.map((c) => c.name).join(',')) throw new Error('its columns are not the manifest\'s');
    } catch (e) {
      throw new ConfigError(`merge: ${file} is damaged or replaced (${printable(String((e as Error).message).split('\n')[0])}); rebuild it with schedlab sweep ... --shard ${index}/${count} --resume`);
    }
    const [rows, distinct, foreign] = stats;
    if (rows !== m.expected_rows || distinct !== rows || foreign !== 0) {
      throw new ConfigError(`merge: ${dir} holds ${rows} rows (${distinct} distinct configurations, ${foreign} of another shard); its manifest expects ${m.expected_rows} of shard ${index}/${count}`);
    }
  }
}

async function* streamRows(conn: DuckDBConnection, sql: string): AsyncGenerator<Row> {
  const result = await conn.stream(sql);
  const names = result.columnNames();
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    for (const r of chunk.getRows()) {
      yield Object.fromEntries(names.map((n, i) => [n, typeof r[i] === 'bigint' ? Number(r[i]) : (r[i] as Row[string])]));
    }
  }
}

export async function mergeShards(dirs: string[], out: string): Promise<{ rows: number; manifest: Manifest }> {
  if (dirs.length === 0) throw new ConfigError('merge: name at least one shard directory');
  checkOutput(dirs, out);
  const manifests = dirs.map((d) => ({ dir: d, m: readManifest(d) }));
  const count = checkShards(manifests);
  const first = manifests[0].m;
  const total = manifests.reduce((s, x) => s + x.m.expected_rows, 0);
  if (total !== first.configs) throw new ConfigError(`merge: ${total} rows in all, the spec has ${first.configs} configurations`);
  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  const lock = lockDirectory(dir, `schedlab merge --out ${out}`);
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      await checkParquet(conn, manifests, count);
      const files = manifests.map(({ dir: d }) => sqlString(join(d, FILES.parquet))).join(', ');
      // The merged journal lets the set be resumed or merged again like a single run's.
      await writeResults(dir, first.columns, streamRows(conn, `SELECT * FROM read_parquet([${files}]) ORDER BY config_index`), { journal: true });
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
    const manifest: Manifest = {
      ...first,
      shard: null,
      expected_rows: total,
      rows: total,
      complete: true,
      merged_from: dirs,
      wall_s: manifests.reduce((s, x) => s + (x.m.wall_s ?? 0), 0),
    };
    writeAtomic(join(dir, FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    return { rows: total, manifest };
  } finally {
    lock.release();
  }
}
