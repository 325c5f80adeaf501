// `schedlab sweep`: run every configuration of a sweep spec into a result directory.
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { int, threadsOption } from '../cli-options.js';
import type { EngineChoice } from '../sim/job.js';

interface SweepCliOptions {
  out: string;
  engine?: EngineChoice;
  resume?: boolean;
  shard?: string;
  threads?: number;
  batch?: number;
  maxConfigs?: number;
}

async function sweepCommand(specPath: string, o: SweepCliOptions): Promise<void> {
  const { runSweep } = await import('../sweep/sweep.js');
  const { FILES } = await import('../sweep/results.js');
  const r = await runSweep(specPath, o);
  const engineLine = r.backend ? `; engine ${r.backend.description}${r.backend.note ? ` (${r.backend.note})` : ''}` : '';
  if (r.complete) {
    process.stdout.write(`sweep: ${r.rows} configurations (${r.ran} run, ${r.reused} from the journal) in ${r.wallS.toFixed(1)} s${engineLine}\n`);
    process.stdout.write(`wrote ${join(o.out, FILES.csv)} and ${join(o.out, FILES.parquet)}\n`);
  } else {
    process.stdout.write(`sweep: stopped after ${r.ran} new configurations, ${r.rows} done in all; rerun with --resume to finish${engineLine}\n`);
  }
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run every configuration of a sweep spec (YAML or JSON; see docs/sweeps.md) and write one row per configuration')
    .argument('<spec>', 'sweep spec file (.yaml, .yml or .json)')
    .requiredOption('--out <dir>', 'result directory (journal.jsonl, manifest.json, results.csv, results.parquet)')
    .addOption(new Option('--engine <engine>', 'gpu engine, cpu reference, or auto (gpu on a hardware adapter, else cpu)').choices(['auto', 'gpu', 'cpu']).default('auto'))
    .option('--resume', 'continue the sweep in --out: configurations already in its journal are not run again')
    .option('--shard <i/n>', 'run only the i-th (0-based) of n deterministic slices; join them with schedlab merge')
    .option('--threads <n>', 'CPU worker threads (default: all cores)', threadsOption('--threads'))
    .option('--batch <n>', 'GPU engine: configurations handed to it at a time (default 4096; the CPU reference is fed one at a time)', int('--batch', 1, 1_000_000))
    .option('--max-configs <n>', 'stop after this many new configurations (continue later with --resume)', int('--max-configs', 1))
    .action((spec: string, o: SweepCliOptions) => sweepCommand(spec, o));
}
