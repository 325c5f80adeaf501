// Questions about a result set: arbitrary SQL (`schedlab query`), the best configurations under
// constraints, and the Pareto front of two metrics (`schedlab best`).
import { ConfigError } from '../model/profile.js';
import { parseDecimal } from '../numbers.js';
import { quote } from '../printable.js';
import { formatCell, renderTable } from '../report/table.js';
import { openResults, queryRows, userQuery } from './database.js';
import type { Row } from './results.js';

export type Direction = 'min' | 'max';

export interface Constraint {
  column: string;
  op: '<=' | '<' | '>=' | '>' | '=' | '!=';
  value: number | string;
}

/** Metrics where more is better; everything else defaults to min. */
export function defaultDirection(column: string): Direction {
  return /throughput|attainment|requests_per_s|tokens_per_s|completed/.test(column) ? 'max' : 'min';
}

function checkColumn(name: string, columns: string[], what: string): string {
  if (!columns.includes(name)) throw new ConfigError(`${what}: unknown column ${quote(name)}; valid: ${columns.join(', ')}`);
  return name;
}

const NUMERIC = /^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|DOUBLE|FLOAT|REAL|DECIMAL)/;

/** `metric[:min|max]` on a numeric column (`types`: DuckDB type by column); `what` names the option. */
export function parseObjective(text: string, types: Record<string, string>, what = '--objective'): { column: string; direction: Direction } {
  const [name, dir, extra] = text.split(':');
  if (extra !== undefined || (dir !== undefined && dir !== 'min' && dir !== 'max')) throw new ConfigError(`${what} ${quote(text)}: write <column>, <column>:min or <column>:max`);
  const columns = Object.keys(types);
  const column = checkColumn(name.trim(), columns, what);
  if (!NUMERIC.test(types[column])) {
    throw new ConfigError(
      `${what}: column ${column} holds ${types[column]} values, not numbers; choose a numeric column, e.g. ttft_ms_p99 or throughput_output_tokens_per_s ` +
        `(schedlab query DIR "DESCRIBE results" lists every column with its type)`,
    );
  }
  return { column, direction: (dir as Direction | undefined) ?? defaultDirection(column) };
}

export function parseConstraint(text: string, columns: string[]): Constraint {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|!=|==|=|<|>)\s*(.+?)\s*$/.exec(text);
  if (!m) throw new ConfigError(`--constraint ${quote(text)}: expected "<column> <op> <value>" with op one of <=, <, >=, >, =, !=`);
  const column = checkColumn(m[1], columns, `--constraint ${quote(text)}`);
  const quoted = /^(['"])(.*)\1$/.exec(m[3]);
  const n = quoted ? undefined : parseDecimal(m[3]);
  return { column, op: (m[2] === '==' ? '=' : m[2]) as Constraint['op'], value: quoted ? quoted[2] : (n ?? m[3]) };
}

function sqlValue(v: number | string): string {
  return typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;
}

function whereClause(constraints: Constraint[]): string {
  return constraints.length ? `WHERE ${constraints.map((c) => `"${c.column}" ${c.op} ${sqlValue(c.value)}`).join(' AND ')}` : '';
}

/** Rows on the Pareto front of two objectives, sorted by the first. Ties keep the lower config index. */
export function paretoFront(rows: Row[], a: { column: string; direction: Direction }, b: { column: string; direction: Direction }): Row[] {
  const sign = (d: Direction) => (d === 'min' ? 1 : -1);
  const key = (r: Row, o: { column: string; direction: Direction }) => sign(o.direction) * (r[o.column] as number);
  const usable = rows.filter((r) => typeof r[a.column] === 'number' && typeof r[b.column] === 'number');
  usable.sort((x, y) => key(x, a) - key(y, a) || key(x, b) - key(y, b) || (x.config_index as number) - (y.config_index as number));
  const front: Row[] = [];
  let bestB = Infinity;
  for (const r of usable) {
    const vb = key(r, b);
    if (vb < bestB) {
      front.push(r);
      bestB = vb;
    }
  }
  return front;
}

/** Columns worth showing next to a chosen metric: the parameters that vary in the set. */
async function varyingParams(conn: Parameters<typeof queryRows>[0], columns: string[]): Promise<string[]> {
  const metricsStart = columns.indexOf('requests');
  const params = columns.slice(2, metricsStart < 0 ? columns.length : metricsStart).filter((c) => c !== 'trace_path');
  if (params.length === 0) return [];
  const { rows } = await queryRows(conn, `SELECT ${params.map((p) => `COUNT(DISTINCT "${p}") AS "${p}"`).join(', ')} FROM results`);
  return params.filter((p) => (rows[0][p] as number) > 1);
}

export function formatRows(columns: string[], rows: Row[]): string {
  return renderTable(columns, rows.map((r) => columns.map((c) => formatCell(r[c] ?? null))));
}

export interface BestOptions {
  objective?: string;
  constraint?: string[];
  pareto?: string;
  limit?: number;
  json?: boolean;
}

export interface BestResult {
  columns: string[];
  rows: Row[];
  /** Rows satisfying the constraints. */
  feasible: number;
  total: number;
  /** For --pareto: feasible rows with a value in both metrics (the others cannot be ranked). */
  ranked?: number;
}

export async function best(dir: string, o: BestOptions): Promise<BestResult> {
  if (o.objective && o.pareto) throw new ConfigError('best: give --objective or --pareto, not both (the Pareto front has two objectives of its own)');
  if (!o.objective && !o.pareto) throw new ConfigError('best: give --objective <metric>[:min|max] or --pareto <metricA>,<metricB>');
  const db = await openResults(dir);
  try {
    const constraints = (o.constraint ?? []).map((c) => parseConstraint(c, db.columns));
    const where = whereClause(constraints);
    const constraintCols = constraints.map((c) => c.column);
    if (o.pareto) {
      const parts = o.pareto.split(',');
      if (parts.length !== 2) throw new ConfigError(`--pareto ${quote(o.pareto)}: give two metrics, e.g. throughput_output_tokens_per_s,ttft_ms_p99`);
      const a = parseObjective(parts[0], db.types, '--pareto');
      const b = parseObjective(parts[1], db.types, '--pareto');
      if (a.column === b.column) throw new ConfigError(`--pareto ${quote(o.pareto)}: give two different metrics`);
      const { total, feasibleRows } = await feasible(db, where);
      const ranked = feasibleRows.filter((r) => typeof r[a.column] === 'number' && typeof r[b.column] === 'number').length;
      const front = paretoFront(feasibleRows, a, b);
      const cols = unique(['config_index', ...(await varyingParams(db.conn, db.columns)), a.column, b.column, ...constraintCols]);
      return { columns: cols, rows: front.slice(0, o.limit ?? front.length).map((r) => pick(r, cols)), feasible: feasibleRows.length, total, ranked };
    }
    const obj = parseObjective(o.objective!, db.types);
    const { total, feasibleRows } = await feasible(db, where);
    const usable = feasibleRows.filter((r) => typeof r[obj.column] === 'number');
    const sorted = usable.sort((x, y) => {
      const d = ((x[obj.column] as number) - (y[obj.column] as number)) * (obj.direction === 'min' ? 1 : -1);
      return d || (x.config_index as number) - (y.config_index as number);
    });
    const cols = unique(['config_index', ...(await varyingParams(db.conn, db.columns)), obj.column, ...constraintCols]);
    return { columns: cols, rows: sorted.slice(0, o.limit ?? 10).map((r) => pick(r, cols)), feasible: feasibleRows.length, total, ranked: usable.length };
  } finally {
    db.close();
  }
}

async function feasible(db: Awaited<ReturnType<typeof openResults>>, where: string): Promise<{ total: number; feasibleRows: Row[] }> {
  const total = (await queryRows(db.conn, 'SELECT COUNT(*) AS n FROM results')).rows[0].n as number;
  const feasibleRows = (await queryRows(db.conn, `SELECT * FROM results ${where} ORDER BY config_index`)).rows;
  return { total, feasibleRows };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function pick(r: Row, cols: string[]): Row {
  return Object.fromEntries(cols.map((c) => [c, r[c] ?? null]));
}

/** The text `schedlab best` prints: how many rows are feasible (and rankable), then the rows. */
export function formatBest(r: BestResult): string {
  const lines = [`${r.feasible} of ${r.total} configurations meet the constraints`];
  if (r.ranked !== undefined && r.ranked < r.feasible) lines.push(`${r.feasible - r.ranked} of them have no value in the chosen metric(s) and are not ranked`);
  if (r.rows.length) lines.push(formatRows(r.columns, r.rows));
  else if (r.feasible === 0) lines.push('no configuration meets the constraints');
  else lines.push('no configuration has values in the chosen metric(s)');
  return lines.join('\n');
}

/** Runs one user query (a single SELECT) over the result set in the sandbox of database.ts. */
export async function query(dir: string, sql: string): Promise<{ columns: string[]; rows: Row[] }> {
  const db = await openResults(dir);
  try {
    return await userQuery(db.conn, sql);
  } finally {
    db.close();
  }
}
