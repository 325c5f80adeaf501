// The sweep commands of the CLI (src/cli.ts registers them). ConfigError from any of them means
// bad input (exit 2), as elsewhere in the CLI.
import { Option, type Command } from 'commander';
import { int } from '../cli-options.js';
import { reportCommand } from '../report/report.js';
import { bestCommand, queryCommand } from './best.js';
import { mergeCommand } from './merge.js';
import { sweepCommand } from './sweep.js';

const positiveInt = (flag: string) => int(flag, 1);

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerSweepCommands(program: Command): void {
  program
    .command('sweep')
    .description('run every configuration of a sweep spec (YAML or JSON; see docs/sweeps.md) and write one row per configuration')
    .argument('<spec>', 'sweep spec file (.yaml, .yml or .json)')
    .requiredOption('--out <dir>', 'result directory (journal.jsonl, manifest.json, results.csv, results.parquet)')
    .addOption(new Option('--engine <engine>', 'gpu engine, cpu reference, or auto (gpu if it works, else cpu)').choices(['auto', 'gpu', 'cpu']).default('auto'))
    .option('--resume', 'continue the sweep in --out: configurations already in its journal are not run again')
    .option('--shard <i/n>', 'run only the i-th (0-based) of n deterministic slices; join them with schedlab merge')
    .option('--threads <n>', 'CPU worker threads (default: all cores)', positiveInt('--threads'))
    .option('--batch <n>', 'configurations handed to the engine at a time (default: 8 per CPU thread, 4096 on the GPU)', positiveInt('--batch'))
    .option('--max-configs <n>', 'stop after this many new configurations (continue later with --resume)', positiveInt('--max-configs'))
    .action(async (spec: string, o) => {
      await sweepCommand(spec, o);
    });

  program
    .command('merge')
    .description('join the result directories of all shards of one sweep into the single-machine result set')
    .argument('<shard-dir...>', 'shard result directories (from schedlab sweep --shard i/n)')
    .requiredOption('--out <dir>', 'merged result directory')
    .action(async (dirs: string[], o: { out: string }) => {
      await mergeCommand(dirs, o.out);
    });

  program
    .command('query')
    .description('run SQL (DuckDB) over a result set; the table is named results')
    .argument('<dir>', 'result directory')
    .argument('<sql>', 'e.g. "SELECT router, scheduler, max(ttft_ms_p99) FROM results GROUP BY ALL"')
    .option('--json', 'print rows as a JSON array')
    .action(async (dir: string, sql: string, o: { json?: boolean }) => {
      await queryCommand(dir, sql, o);
    });

  program
    .command('best')
    .description('the best configurations under constraints, or the Pareto front of two metrics')
    .argument('<dir>', 'result directory')
    .option('--objective <metric[:min|max]>', 'column to optimise (default direction: max for throughput/attainment, else min)')
    .option('--constraint <expr>', 'e.g. "ttft_ms_p99 <= 2000" (repeatable; ops <= < >= > = !=)', collect)
    .option('--pareto <metricA,metricB>', 'print the Pareto front of two metrics (each may carry :min or :max)')
    .option('--limit <n>', 'rows to print (default 10 for --objective, the whole front for --pareto)', positiveInt('--limit'))
    .option('--json', 'print rows as a JSON array')
    .action(async (dir: string, o) => {
      await bestCommand(dir, o);
    });

  program
    .command('report')
    .description('write a self-contained HTML report (plots and a sortable table) of a result set')
    .argument('<dir>', 'result directory')
    .option('--out <file>', 'HTML file to write (default: <dir>/report.html)')
    .action(async (dir: string, o: { out?: string }) => {
      await reportCommand(dir, o);
    });
}
