// `schedlab report`: a self-contained HTML report of a result set.
import type { Command } from 'commander';

async function reportCommand(dir: string, o: { out?: string }): Promise<void> {
  const { writeReport } = await import('../report/report.js');
  const out = await writeReport(dir, o);
  process.stdout.write(`wrote ${out}\n`);
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report (plots and a sortable table) of a result set')
    .argument('<dir>', 'result directory')
    .option('--out <file>', 'HTML file to write (default: <dir>/report.html)')
    .action((dir: string, o: { out?: string }) => reportCommand(dir, o));
}
