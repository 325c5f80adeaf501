// A result set opened in DuckDB for questions (query, best, report). The rows are loaded into an
// in-memory table `results`; then, before any user SQL runs, the connection is locked down:
// enable_external_access = false (no files, network or extensions: read_csv('/etc/passwd'),
// glob, COPY ... TO, ATTACH, INSTALL all fail) and lock_configuration = true (no SET undoes it).
// User SQL must be exactly one statement, and a query.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '@duckdb/node-api';
import { ConfigError } from '../model/profile.js';
import { printable } from '../printable.js';
import { FILES, readManifest, sqlString, type Row } from './results.js';
import type { Value } from './spec.js';

export interface ResultsDb {
  conn: DuckDBConnection;
  columns: string[];
  /** DuckDB type of each column (BIGINT, DOUBLE, VARCHAR, ...). */
  types: Record<string, string>;
  close: () => void;
}

/** The first line of a DuckDB error, without the internal statement it may quote. */
function duckMessage(e: unknown): string {
  return printable(String((e as Error).message ?? e).split('\n')[0]);
}

/** Opens a result directory with its rows as the table `results`, sandboxed (see above). */
export async function openResults(dir: string): Promise<ResultsDb> {
  const manifest = readManifest(dir);
  const parquet = join(dir, FILES.parquet);
  if (!existsSync(parquet)) {
    throw new ConfigError(
      `${dir}: no ${FILES.parquet}; run a sweep (or merge shards) into it first` +
        (existsSync(join(dir, FILES.journal)) ? ' (a journal exists: finish it with schedlab sweep SPEC --out DIR --resume)' : ''),
    );
  }
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  const close = () => {
    conn.closeSync();
    instance.closeSync();
  };
  try {
    try {
      await conn.run(`CREATE TABLE results AS SELECT * FROM read_parquet(${sqlString(parquet)})`);
    } catch (e) {
      throw new ConfigError(
        `${parquet} is damaged or not a Parquet file (${duckMessage(e)}); ` +
          `if ${FILES.journal} is intact, schedlab sweep SPEC --out ${dir} --resume writes the result files again`,
      );
    }
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
    const described = await conn.runAndReadAll('DESCRIBE results');
    const types: Record<string, string> = {};
    for (const [name, type] of described.getRows()) types[String(name)] = String(type);
    const columns = Object.keys(types);
    const expected = manifest.columns.map((c) => c.name);
    if (columns.join(',') !== expected.join(',')) {
      throw new ConfigError(
        `${parquet} does not hold this result set's columns (expected ${expected.slice(0, 4).join(', ')}, ...; found ${printable(columns.slice(0, 4).join(', '))}${columns.length > 4 ? ', ...' : ''}): ` +
          `damaged or replaced; if ${FILES.journal} is intact, schedlab sweep SPEC --out ${dir} --resume writes the result files again`,
      );
    }
    return { conn, columns, types, close };
  } catch (e) {
    close();
    throw e;
  }
}

function plain(v: unknown): Value {
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

/** Runs SQL that schedlab itself wrote (column names checked, values quoted) and returns plain rows. */
export async function queryRows(conn: DuckDBConnection, sql: string): Promise<{ columns: string[]; rows: Row[] }> {
  let reader;
  try {
    reader = await conn.runAndReadAll(sql);
  } catch (e) {
    throw new ConfigError(`SQL: ${duckMessage(e)}`);
  }
  const columns = reader.columnNames();
  const rows = reader.getRows().map((r) => Object.fromEntries(columns.map((c, i) => [c, plain(r[i])])));
  return { columns, rows };
}

const ALLOWED = new Set([StatementType.SELECT, StatementType.EXPLAIN]);

/** Runs one user-written query over `results`: exactly one statement, a SELECT (or EXPLAIN). */
export async function userQuery(conn: DuckDBConnection, sql: string): Promise<{ columns: string[]; rows: Row[] }> {
  if (sql.trim() === '') throw new ConfigError('SQL: the query is empty; e.g. "SELECT * FROM results LIMIT 5"');
  let statements;
  try {
    statements = await conn.extractStatements(sql);
  } catch (e) {
    throw new ConfigError(`SQL: ${duckMessage(e)}`);
  }
  if (statements.count !== 1) {
    throw new ConfigError(`SQL: give exactly one statement, found ${statements.count}; the table is named results`);
  }
  let prepared;
  try {
    prepared = await statements.prepare(0);
  } catch (e) {
    const message = duckMessage(e);
    const sandbox = /Permission Error|disabled/.test(message) ? ' (queries see only the table results: files, network and extensions are off)' : '';
    throw new ConfigError(`SQL: ${message}${sandbox}`);
  }
  if (!ALLOWED.has(prepared.statementType)) {
    throw new ConfigError(`SQL: only a query may run (SELECT ... FROM results); this statement is of type ${StatementType[prepared.statementType] ?? prepared.statementType}`);
  }
  let reader;
  try {
    reader = await prepared.runAndReadAll();
  } catch (e) {
    throw new ConfigError(`SQL: ${duckMessage(e)}`);
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
