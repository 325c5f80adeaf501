// `schedlab paper`: its options; the sweeps, reports and claims load when the command runs.
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { int } from '../cli-options.js';
import type { PaperOptions } from '../paper/command.js';

export function registerPaper(program: Command): void {
  program
    .command('paper')
    .description("run the paper's comparisons (engine schedulers on 1 replica, routers on 4 and 8) on the bundled Azure and Mooncake traces and judge its claims")
    .requiredOption('--out <dir>', 'output directory: one result set and report.html per experiment, specs/, verdict.md, verdict.json')
    .option('--quick', 'short windows, 3 loads, 4 replicas and 3 routers only (under a minute on 2 CPU cores)')
    .addOption(new Option('--engine <engine>', 'gpu engine, cpu reference, or auto').choices(['auto', 'gpu', 'cpu']).default('auto'))
    .option('--threads <n>', 'CPU worker threads (default: all cores)', int('--threads', 1))
    .option('--resume', 'reuse the results already in --out (an interrupted run continues)')
    .action(async (o: PaperOptions) => {
      const { runPaper } = await import('../paper/command.js');
      const r = await runPaper(o);
      process.stdout.write(r.text + '\n');
      process.stdout.write(`wrote ${join(o.out, 'verdict.md')}, ${join(o.out, 'verdict.json')} and a report.html per experiment\n`);
    });
}
