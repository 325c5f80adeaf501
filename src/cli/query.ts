// `schedlab query`: one SQL query over a result set, in DuckDB's sandbox (src/sweep/database.ts).
import type { Command } from 'commander';

async function queryCommand(dir: string, sql: string, o: { json?: boolean }): Promise<void> {
  const { query, formatRows } = await import('../sweep/best.js');
  const r = await query(dir, sql);
  process.stdout.write(o.json ? JSON.stringify(r.rows, null, 2) + '\n' : formatRows(r.columns, r.rows) + '\n');
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('run one SQL query (DuckDB) over a result set; the table is named results, and nothing else is reachable')
    .argument('<dir>', 'result directory')
    .argument('<sql>', 'one SELECT, e.g. "SELECT router, scheduler, max(ttft_ms_p99) FROM results GROUP BY ALL"')
    .option('--json', 'print rows as a JSON array')
    .action((dir: string, sql: string, o: { json?: boolean }) => queryCommand(dir, sql, o));
}
