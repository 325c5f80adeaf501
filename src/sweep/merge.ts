// `schedlab merge <shard-dir>... --out <dir>`: joins complete shard result sets of one spec into the
// result set a single machine would have written (same rows, same order, same files).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../model/profile.js';
import { FILES, readAllRows, readManifest, writeResults, type Manifest, type Row } from './results.js';
import { writeAtomic } from '../write-atomic.js';

export async function mergeShards(dirs: string[], out: string): Promise<{ rows: number; manifest: Manifest }> {
  if (dirs.length === 0) throw new ConfigError('merge: name at least one shard directory');
  const manifests = dirs.map((d) => ({ dir: d, m: readManifest(d) }));
  const first = manifests[0].m;
  const count = first.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const { dir, m } of manifests) {
    if (m.spec_hash !== first.spec_hash) throw new ConfigError(`merge: ${dir} comes from a different spec than ${manifests[0].dir} (spec hash ${m.spec_hash} vs ${first.spec_hash})`);
    const shardCount = m.shard?.count ?? 1;
    if (shardCount !== count) throw new ConfigError(`merge: ${dir} is one of ${shardCount} shards, ${manifests[0].dir} one of ${count}`);
    const index = m.shard?.index ?? 0;
    if (seen.has(index)) throw new ConfigError(`merge: ${dir} and ${seen.get(index)} are both shard ${index}/${count}`);
    seen.set(index, dir);
    if (!m.complete) throw new ConfigError(`merge: ${dir} (shard ${index}/${count}) is not complete (${m.rows}/${m.expected_rows} rows); finish it with schedlab sweep ... --shard ${index}/${count} --resume`);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new ConfigError(`merge: missing shard(s) ${missing.map((i) => `${i}/${count}`).join(', ')}`);
  const rows = new Map<number, Row>();
  for (const { dir, m } of manifests) {
    const { rows: shardRows } = await readAllRows(dir);
    const byIndex = new Map<number, Row>();
    for (const r of shardRows) byIndex.set(r.config_index as number, r);
    if (byIndex.size !== m.expected_rows) {
      throw new ConfigError(`merge: ${dir} holds ${byIndex.size} rows, its manifest expects ${m.expected_rows}`);
    }
    for (const [i, r] of byIndex) rows.set(i, r);
  }
  if (rows.size !== first.configs) throw new ConfigError(`merge: ${rows.size} rows in all, the spec has ${first.configs} configurations`);
  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  const ordered = [...rows.keys()].sort((a, b) => a - b).map((i) => rows.get(i)!);
  await writeResults(dir, first.columns, ordered);
  const manifest: Manifest = {
    ...first,
    shard: null,
    expected_rows: ordered.length,
    rows: ordered.length,
    complete: true,
    merged_from: dirs,
    wall_s: manifests.reduce((s, x) => s + (x.m.wall_s ?? 0), 0),
  };
  // The journal of a merged set lets it be resumed or merged again like a single run's.
  writeAtomic(join(dir, FILES.journal), ordered.map((row) => JSON.stringify({ id: row.config_id, row }) + '\n').join(''));
  writeAtomic(join(dir, FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  return { rows: ordered.length, manifest };
}

export async function mergeCommand(dirs: string[], out: string): Promise<void> {
  const r = await mergeShards(dirs, out);
  process.stdout.write(`merge: ${r.rows} rows from ${dirs.length} shard(s); wrote ${join(out, FILES.csv)} and ${join(out, FILES.parquet)}\n`);
}
