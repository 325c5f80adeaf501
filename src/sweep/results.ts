// Result sets: one row per configuration (every parameter, every metric, engine used), kept as an
// append-only JSONL journal while a sweep runs and written as CSV and Parquet (atomically) at the end.
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ConfigError } from '../model/profile.js';
import { emptyRaw, summarizeRaw, type MetricsSummary } from '../metrics/record.js';
import { DEFAULT_SLO } from '../sim/lane.js';
import type { Expansion, SweepConfig } from './expand.js';
import type { ParamDef, Value } from './spec.js';

export type Row = Record<string, Value>;
export type SqlType = 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN';
export interface Column {
  name: string;
  type: SqlType;
  /** parameter, metric, or bookkeeping (config_index, config_id, engine, fallback). */
  role: 'key' | 'param' | 'metric' | 'engine';
}

export const FILES = {
  journal: 'journal.jsonl',
  manifest: 'manifest.json',
  csv: 'results.csv',
  parquet: 'results.parquet',
} as const;

const INTEGER_METRICS = /(^|_)(count|requests|completed|rejected|preemptions|iterations|max_model_len|kv_capacity|lookups|hits|lookup_tokens|hit_tokens|evicted_blocks|out_of_order)$/;

/** Flattens a summary: {ttft_ms: {p99}} -> ttft_ms_p99. The SLO targets are parameters, not metrics. */
export function flattenSummary(s: MetricsSummary): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (prefix: string, v: unknown) => {
    if (typeof v === 'number') out[prefix] = v;
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}_${k}` : k, x);
  };
  walk('', s);
  delete out.slo_ttft_ms;
  delete out.slo_tpot_ms;
  return out;
}

export const METRIC_NAMES = Object.keys(flattenSummary(summarizeRaw(emptyRaw(), 1, DEFAULT_SLO)));

/** The result columns of a sweep: fixed by the spec alone, so shards and single runs agree. */
export function columnsFor(params: ParamDef[]): Column[] {
  const cols: Column[] = [
    { name: 'config_index', type: 'BIGINT', role: 'key' },
    { name: 'config_id', type: 'VARCHAR', role: 'key' },
    { name: 'trace_path', type: 'VARCHAR', role: 'param' },
  ];
  for (const p of params) cols.push({ name: p.column, type: p.kind === 'int' ? 'BIGINT' : p.kind === 'float' ? 'DOUBLE' : p.kind === 'bool' ? 'BOOLEAN' : 'VARCHAR', role: 'param' });
  for (const m of METRIC_NAMES) cols.push({ name: m, type: INTEGER_METRICS.test(m) ? 'BIGINT' : 'DOUBLE', role: 'metric' });
  cols.push({ name: 'engine', type: 'VARCHAR', role: 'engine' }, { name: 'fallback', type: 'VARCHAR', role: 'engine' });
  return cols;
}

export function makeRow(config: SweepConfig, summary: MetricsSummary, engine: string, fallback: string | undefined): Row {
  return {
    config_index: config.index,
    config_id: config.id,
    trace_path: config.trace.path,
    ...config.columns,
    ...flattenSummary(summary),
    engine,
    fallback: fallback ?? null,
  };
}

// ---- journal ----

export interface JournalEntry {
  id: string;
  row: Row;
}

export function readJournal(dir: string): Map<string, Row> {
  const path = join(dir, FILES.journal);
  const out = new Map<string, Row>();
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as JournalEntry;
      if (e && typeof e.id === 'string' && e.row) out.set(e.id, e.row);
    } catch {
      // A line cut short by a kill: that configuration is simply run again.
    }
  }
  return out;
}

export function appendJournal(dir: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const path = join(dir, FILES.journal);
  // A line cut short by a kill must not swallow the first row appended after it.
  const lead = endsMidLine(path) ? '\n' : '';
  appendFileSync(path, lead + rows.map((row) => JSON.stringify({ id: row.config_id, row }) + '\n').join(''));
}

function endsMidLine(path: string): boolean {
  if (!existsSync(path)) return false;
  const size = statSync(path).size;
  if (size === 0) return false;
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

// ---- manifest ----

export interface Manifest {
  schedlab_sweep: 1;
  name?: string;
  spec_path?: string;
  /** The validated spec, so merge and report need nothing else. */
  spec: unknown;
  spec_hash: string;
  shard: { index: number; count: number } | null;
  /** Configurations in the full expansion (all shards), including skipped invalid ones. */
  generated: number;
  /** Valid configurations of the full expansion. */
  configs: number;
  /** Rows this result set holds when complete. */
  expected_rows: number;
  rows: number;
  complete: boolean;
  skipped_invalid: number;
  columns: Column[];
  backend?: { engine: string; description: string; note?: string };
  wall_s?: number;
  merged_from?: string[];
}

export function readManifest(dir: string): Manifest {
  const path = join(dir, FILES.manifest);
  if (!existsSync(path)) throw new ConfigError(`${dir}: no ${FILES.manifest}; not a sweep result directory`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
}

// ---- CSV and Parquet ----

function csvField(v: Value | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: Column[], rows: Row[]): string {
  const lines = [columns.map((c) => c.name).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvField(row[c.name])).join(','));
  return lines.join('\n') + '\n';
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Writes results.csv and results.parquet atomically, rows sorted by config index. */
export async function writeResults(dir: string, columns: Column[], rows: Row[]): Promise<void> {
  const sorted = [...rows].sort((a, b) => (a.config_index as number) - (b.config_index as number));
  const csvPath = join(dir, FILES.csv);
  const csvText = toCsv(columns, sorted);
  const tmpCsv = `${csvPath}.tmp-${process.pid}`;
  writeFileSync(tmpCsv, csvText);
  const parquetPath = join(dir, FILES.parquet);
  const tmpParquet = `${parquetPath}.tmp-${process.pid}`;
  const colSpec = `{${columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ')}}`;
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(
      `COPY (SELECT * FROM read_csv(${sqlString(tmpCsv)}, header = true, columns = ${colSpec}, nullstr = '', quote = '"', escape = '"', auto_detect = false) ORDER BY config_index) ` +
        `TO ${sqlString(tmpParquet)} (FORMAT parquet)`,
    );
  } catch (e) {
    rmSync(tmpCsv, { force: true });
    rmSync(tmpParquet, { force: true });
    throw e;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  renameSync(tmpParquet, parquetPath);
  renameSync(tmpCsv, csvPath);
}

// ---- reading ----

export interface ResultsDb {
  conn: DuckDBConnection;
  close: () => void;
  columns: string[];
}

/** Opens a result directory in DuckDB with its rows as the view `results`. */
export async function openResults(dir: string): Promise<ResultsDb> {
  const parquet = join(dir, FILES.parquet);
  if (!existsSync(parquet)) {
    throw new ConfigError(`${dir}: no ${FILES.parquet}; run a sweep (or merge shards) into it first${existsSync(join(dir, FILES.journal)) ? ' (a journal exists: finish it with --resume)' : ''}`);
  }
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`CREATE VIEW results AS SELECT * FROM read_parquet(${sqlString(parquet)})`);
  const described = await conn.runAndReadAll('SELECT * FROM results LIMIT 0');
  return {
    conn,
    columns: described.columnNames(),
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

function plain(v: unknown): Value {
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

/** Runs SQL and returns plain JS rows (BIGINT as number, other exotic types as strings). */
export async function queryRows(conn: DuckDBConnection, sql: string): Promise<{ columns: string[]; rows: Row[] }> {
  let reader;
  try {
    reader = await conn.runAndReadAll(sql);
  } catch (e) {
    throw new ConfigError(`SQL: ${(e as Error).message}`);
  }
  const columns = reader.columnNames();
  const rows = reader.getRows().map((r) => Object.fromEntries(columns.map((c, i) => [c, plain(r[i])])));
  return { columns, rows };
}

export async function readAllRows(dir: string): Promise<{ columns: string[]; rows: Row[] }> {
  const db = await openResults(dir);
  try {
    return await queryRows(db.conn, 'SELECT * FROM results ORDER BY config_index');
  } finally {
    db.close();
  }
}

export function expectedRowCount(exp: Expansion, shard: { index: number; count: number } | null): number {
  return shard ? exp.configs.filter((c) => c.index % shard.count === shard.index).length : exp.configs.length;
}
