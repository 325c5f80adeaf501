// `schedlab best`: the best configurations under constraints, or the Pareto front of two metrics.
import type { Command } from 'commander';
import { int } from '../cli-options.js';
import type { BestOptions } from '../sweep/best.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

async function bestCommand(dir: string, o: BestOptions): Promise<void> {
  const { best, formatBest } = await import('../sweep/best.js');
  const r = await best(dir, o);
  process.stdout.write(o.json ? JSON.stringify(r.rows, null, 2) + '\n' : formatBest(r) + '\n');
}

export function registerBest(program: Command): void {
  program
    .command('best')
    .description('the best configurations under constraints, or the Pareto front of two metrics')
    .argument('<dir>', 'result directory')
    .option('--objective <metric[:min|max]>', 'numeric column to optimise (default direction: max for throughput/attainment, else min)')
    .option('--constraint <expr>', 'e.g. "ttft_ms_p99 <= 2000" (repeatable; ops <= < >= > = !=)', collect)
    .option('--pareto <metricA,metricB>', 'print the Pareto front of two numeric columns (each may carry :min or :max); not with --objective')
    .option('--limit <n>', 'rows to print (default 10 for --objective, the whole front for --pareto)', int('--limit', 1))
    .option('--json', 'print rows as a JSON array')
    .action((dir: string, o: BestOptions) => bestCommand(dir, o));
}
