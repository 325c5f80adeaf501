// Result sets: one row per configuration (every parameter, every metric, engine used), kept as an
// append-only JSONL journal while a sweep runs (one line per finished configuration) and written
// as CSV and Parquet (atomically) at the end. Rows are streamed from the journal to the files, so
// writing a million rows holds a few typed arrays, not the rows.
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../model/profile.js';
import { emptyRaw, summarizeRaw, type MetricsSummary } from '../metrics/record.js';
import { DEFAULT_SLO } from '../sim/lane.js';
import { printable } from '../printable.js';
import { tempPathFor } from '../write-atomic.js';
import type { SweepConfig } from './expand.js';
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
  lock: 'sweep.lock',
  report: 'report.html',
} as const;

/** Result-set layout version: 2 keys configurations by trace content (1 keyed them by trace path). */
export const RESULT_FORMAT = 2;

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

/** Where one row sits in a journal file. */
export interface RowAt {
  index: number;
  offset: number;
  length: number;
}

/** The journal's lines with their byte offsets, read in 1 MiB chunks. */
function* journalLines(path: string): Generator<{ offset: number; bytes: Buffer }> {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry = Buffer.alloc(0);
    let base = 0; // file offset of carry[0]
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let at = 0;
      for (let nl = buf.indexOf(0x0a, at); nl >= 0; nl = buf.indexOf(0x0a, at)) {
        yield { offset: base + at, bytes: buf.subarray(at, nl) };
        at = nl + 1;
      }
      carry = Buffer.from(buf.subarray(at));
      base += at;
    }
    if (carry.length) yield { offset: base, bytes: carry };
  } finally {
    closeSync(fd);
  }
}

/** A journal entry: where its row sits, and the config id it was run under. */
export interface JournalEntry extends RowAt {
  id: string;
}

/**
 * The journal's entries by config index (a later entry for an index wins). A line cut short by a
 * kill is ignored: that configuration simply runs again.
 */
export function scanJournal(dir: string): Map<number, JournalEntry> {
  const path = join(dir, FILES.journal);
  const out = new Map<number, JournalEntry>();
  if (!existsSync(path)) return out;
  for (const { offset, bytes } of journalLines(path)) {
    if (bytes.length === 0) continue;
    try {
      const e = JSON.parse(bytes.toString('utf8')) as { id?: unknown; row?: Row };
      const index = e?.row?.config_index;
      if (typeof e.id === 'string' && typeof index === 'number' && Number.isInteger(index) && index >= 0) out.set(index, { id: e.id, index, offset, length: bytes.length });
    } catch {
      // cut short by a kill
    }
  }
  return out;
}

/** The journal's rows by config id, for tests and small sets. */
export function readJournal(dir: string): Map<string, Row> {
  const out = new Map<string, Row>();
  const path = join(dir, FILES.journal);
  for (const at of scanJournal(dir).values()) out.set(at.id, readRowAt(path, at));
  return out;
}

function readRowAt(path: string, at: RowAt, fd?: number): Row {
  const own = fd === undefined;
  const f = fd ?? openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(at.length);
    readSync(f, buf, 0, at.length, at.offset);
    return (JSON.parse(buf.toString('utf8')) as { row: Row }).row;
  } finally {
    if (own) closeSync(f);
  }
}

/** Appends one line per finished configuration, as it finishes, to `journal.jsonl`. */
export class JournalWriter {
  private readonly fd: number;
  private offset: number;

  constructor(readonly dir: string) {
    const path = join(dir, FILES.journal);
    this.fd = openSync(path, 'a');
    this.offset = statSync(path).size;
    // A line cut short by a kill must not swallow the first row appended after it.
    if (this.offset > 0) {
      const last = Buffer.alloc(1);
      const rfd = openSync(path, 'r');
      readSync(rfd, last, 0, 1, this.offset - 1);
      closeSync(rfd);
      if (last[0] !== 0x0a) this.write('\n');
    }
  }

  private write(text: string): number {
    const bytes = Buffer.from(text);
    writeSync(this.fd, bytes);
    this.offset += bytes.length;
    return bytes.length;
  }

  /** Appends a row and returns where it sits. */
  append(row: Row): RowAt {
    const offset = this.offset;
    const length = this.write(JSON.stringify({ id: row.config_id, row }) + '\n') - 1;
    return { index: row.config_index as number, offset, length };
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The rows a result set is made of: at most one journal entry per config index, in index order. */
export class RowSelection {
  private readonly offset: Float64Array;
  private readonly length: Uint32Array;
  count = 0;

  constructor(readonly journal: string, size: number) {
    this.offset = new Float64Array(size).fill(-1);
    this.length = new Uint32Array(size);
  }

  has(index: number): boolean {
    return this.offset[index] >= 0;
  }

  set(at: RowAt): void {
    if (!this.has(at.index)) this.count++;
    this.offset[at.index] = at.offset;
    this.length[at.index] = at.length;
  }

  /** The selected rows by ascending config index, read back from the journal one at a time. */
  *rows(): Generator<Row> {
    const fd = openSync(this.journal, 'r');
    try {
      for (let i = 0; i < this.offset.length; i++) {
        if (this.offset[i] >= 0) yield readRowAt(this.journal, { index: i, offset: this.offset[i], length: this.length[i] }, fd);
      }
    } finally {
      closeSync(fd);
    }
  }
}

// ---- manifest ----

export interface Manifest {
  schedlab_sweep: number;
  name?: string;
  spec_path?: string;
  /** The validated spec, so merge and report need nothing else. */
  spec: unknown;
  spec_hash: string;
  /** SHA-256 of each trace file's content, by the spec's trace name; configuration ids include it. */
  trace_sha256: Record<string, string>;
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
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (e) {
    throw new ConfigError(`${path}: damaged (${printable((e as Error).message)}); not a readable sweep manifest`);
  }
  if (!m || typeof m !== 'object' || typeof m.schedlab_sweep !== 'number' || !Array.isArray(m.columns)) {
    throw new ConfigError(`${path}: not a schedlab sweep manifest`);
  }
  return m;
}

/**
 * Resuming and merging need the current format (format 1 keyed configurations by trace path and
 * kept no trace digests); reading the results (query, best, report) works on any format.
 */
export function assertResumable(m: Manifest, dir: string): void {
  if (m.schedlab_sweep !== RESULT_FORMAT) {
    throw new ConfigError(
      `${dir}: written by another schedlab version (result format ${m.schedlab_sweep}, this one resumes and merges format ${RESULT_FORMAT}); ` +
        'run the sweep again into a new --out (query, best and report still read it)',
    );
  }
}

// ---- CSV and Parquet ----

function csvField(v: Value | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvLine(columns: Column[], row: Row): string {
  return columns.map((c) => csvField(row[c.name])).join(',') + '\n';
}

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * Writes results.csv and results.parquet atomically from rows in config-index order (and, with
 * `journal`, a journal.jsonl of the same rows). Temp files are removed on every failure.
 */
export async function writeResults(dir: string, columns: Column[], rows: Iterable<Row> | AsyncIterable<Row>, opts: { journal?: boolean } = {}): Promise<void> {
  const csvPath = join(dir, FILES.csv);
  const parquetPath = join(dir, FILES.parquet);
  const journalPath = join(dir, FILES.journal);
  const tmpCsv = tempPathFor(csvPath);
  const tmpParquet = tempPathFor(parquetPath);
  const tmpJournal = tempPathFor(journalPath);
  try {
    const csv = openSync(tmpCsv, 'w');
    const journal = opts.journal ? openSync(tmpJournal, 'w') : undefined;
    try {
      let csvText = columns.map((c) => c.name).join(',') + '\n';
      let journalText = '';
      let pending = 0;
      for await (const row of rows) {
        csvText += csvLine(columns, row);
        if (journal !== undefined) journalText += JSON.stringify({ id: row.config_id, row }) + '\n';
        if (++pending === 1024) {
          writeSync(csv, csvText);
          if (journal !== undefined) writeSync(journal, journalText);
          csvText = journalText = '';
          pending = 0;
        }
      }
      writeSync(csv, csvText);
      if (journal !== undefined) writeSync(journal, journalText);
    } finally {
      closeSync(csv);
      if (journal !== undefined) closeSync(journal);
    }
    const colSpec = `{${columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ')}}`;
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      await conn.run(
        `COPY (SELECT * FROM read_csv(${sqlString(tmpCsv)}, header = true, columns = ${colSpec}, nullstr = '', quote = '"', escape = '"', auto_detect = false) ORDER BY config_index) ` +
          `TO ${sqlString(tmpParquet)} (FORMAT parquet)`,
      );
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
    if (opts.journal) renameSync(tmpJournal, journalPath);
    renameSync(tmpParquet, parquetPath);
    renameSync(tmpCsv, csvPath);
  } finally {
    for (const tmp of [tmpCsv, tmpParquet, tmpJournal]) rmSync(tmp, { force: true });
  }
}
