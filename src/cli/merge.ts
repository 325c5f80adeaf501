// `schedlab merge`: join the result directories of all shards of one sweep.
import type { Command } from 'commander';
import { join } from 'node:path';

async function mergeCommand(dirs: string[], out: string): Promise<void> {
  const { mergeShards } = await import('../sweep/merge.js');
  const { FILES } = await import('../sweep/results.js');
  const r = await mergeShards(dirs, out);
  process.stdout.write(`merge: ${r.rows} rows from ${dirs.length} shard(s); wrote ${join(out, FILES.csv)} and ${join(out, FILES.parquet)}\n`);
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('join the result directories of all shards of one sweep into the single-machine result set')
    .argument('<shard-dir...>', 'shard result directories (from schedlab sweep --shard i/n)')
    .requiredOption('--out <dir>', 'merged result directory (new or empty, none of the shards)')
    .action((dirs: string[], o: { out: string }) => mergeCommand(dirs, o.out));
}
