// `schedlab compare`: the GPU engine against the CPU reference on the same jobs, in one process,
// record for record. Random configurations (--configs) or every configuration of a sweep spec,
// the latter in batches so that a large spec never sits in memory whole.
import type { Command } from 'commander';
import { addTraceOptions, BUNDLED_TRACE, int, prepareTrace, threadsOption, type TraceOptions } from '../cli-options.js';
import { ConfigError } from '../model/profile.js';
import type { Job } from '../sim/job.js';
import { describeJob, progressFor } from './engines.js';

/** Random configurations held at once: each is a job object in memory on both engines. */
export const MAX_COMPARE_CONFIGS = 100_000;
/** A spec's configurations go to the engines this many at a time. */
const SPEC_BATCH = 16_384;

interface CompareOptions extends TraceOptions {
  configs: number;
  seed: number;
  threads?: number;
  json?: boolean;
}

interface Row {
  index: number;
  label: string;
  equal: boolean;
  difference: string | null;
  engine: 'cpu' | 'gpu';
  fallback?: string;
}

async function compareCommand(specPath: string | undefined, o: CompareOptions): Promise<void> {
  const { requireGpuEngine } = await import('../sim/engine.js');
  const { compareJobs, randomJobs } = await import('../sim/compare.js');
  let batches: Iterable<{ jobs: Job[]; labels: string[] }>;
  let source: Record<string, unknown>;
  if (specPath) {
    const { specJobBatches } = await import('../sweep/sweep.js');
    const spec = specJobBatches(specPath, SPEC_BATCH);
    if (spec.total === 0) throw new ConfigError(`compare: ${specPath} has no valid configuration to run`);
    batches = (function* () {
      for (const b of spec.batches) yield { jobs: b.jobs, labels: b.configs.map((c, i) => `config ${c.index} (${describeJob(b.jobs[i])})`) };
    })();
    source = { spec: specPath };
  } else {
    const { trace, config } = prepareTrace(o);
    const jobs = randomJobs(trace, o.configs, o.seed);
    batches = [{ jobs, labels: jobs.map((job, i) => `#${i} ${describeJob(job)}`) }];
    source = { trace: config, configs: o.configs, seed: o.seed };
    process.stderr.write(`compare: ${o.configs} random configurations drawn with --seed ${o.seed} (replay with the same seed)\n`);
  }
  await requireGpuEngine();
  const rows: Row[] = [];
  let gpuSeconds = 0;
  let cpuSeconds = 0;
  let cpuThreads = 0;
  let backend = '';
  for (const batch of batches) {
    const progress = progressFor('compare');
    const r = await compareJobs(batch.jobs, { threads: o.threads, onProgress: progress.update }).finally(() => progress.stop());
    gpuSeconds += r.gpuSeconds;
    cpuSeconds += r.cpuSeconds;
    cpuThreads = Math.max(cpuThreads, r.cpuThreads);
    backend = r.backend;
    for (const row of r.rows) {
      const out = { ...row, index: rows.length, label: batch.labels[row.index] };
      rows.push(out);
      if (!o.json) {
        const verdict = row.equal ? 'equal' : `DIFFERENT at ${row.difference} (CPU vs GPU)`;
        const fell = row.fallback ? ` [ran on the CPU: ${row.fallback}]` : '';
        process.stdout.write(`${out.label}: ${verdict}${fell}\n`);
      }
    }
  }
  const different = rows.filter((row) => !row.equal).length;
  const equal = rows.length - different;
  const fallbacks = rows.filter((row) => row.engine === 'cpu');
  const ratio = cpuSeconds / gpuSeconds;
  const summary = `${equal} equal, ${different} different`;
  if (o.json) {
    const out = {
      ...source,
      backend,
      equal,
      different,
      gpu_fallback_lanes: fallbacks.length,
      gpu_s: gpuSeconds,
      cpu_s: cpuSeconds,
      cpu_threads: cpuThreads,
      ratio,
      rows: rows.map(({ label, ...row }) => ({ ...row, config: label })),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    process.stderr.write(summary + '\n');
  } else {
    process.stdout.write(`backend ${backend}\n`);
    if (fallbacks.length > 0) {
      const byReason = new Map<string, number>();
      for (const row of fallbacks) byReason.set(row.fallback ?? 'unknown', (byReason.get(row.fallback ?? 'unknown') ?? 0) + 1);
      const reasons = [...byReason].map(([why, n]) => `${n} ${why}`).join('; ');
      process.stdout.write(`${fallbacks.length} configuration(s) fell back to the CPU reference: ${reasons}\n`);
    }
    process.stdout.write(
      `wall time: GPU engine ${gpuSeconds.toFixed(2)} s, CPU reference (${cpuThreads} thread(s)) ${cpuSeconds.toFixed(2)} s; ` + `GPU speed-up ${ratio.toFixed(3)}x\n`,
    );
    process.stdout.write(summary + '\n');
  }
  if (different > 0) process.exitCode = 1;
}

export function registerCompare(program: Command): void {
  const compare = program
    .command('compare')
    .description('run configurations on the GPU engine and the CPU reference and check that every record is identical')
    .argument('[spec]', 'a sweep spec (YAML/JSON): compare all its configurations; without it, --configs random ones over --trace');
  addTraceOptions(compare, BUNDLED_TRACE);
  compare
    .option(
      '--configs <n>',
      `random configurations to draw, at most ${MAX_COMPARE_CONFIGS} (biased toward memory pressure, preemption storms, bursts, ties)`,
      int('--configs', 1, MAX_COMPARE_CONFIGS, 'all are held in memory at once; compare more with several --seed values'),
      200,
    )
    .option('--seed <k>', 'seed of the random configurations', int('--seed', 0, 0xffffffff, 'u32'), 1)
    .option('--threads <n>', 'CPU worker threads (default: all cores)', threadsOption('--threads'))
    .option('--json', 'print one JSON object (the summary line goes to stderr)')
    .action((spec: string | undefined, o: CompareOptions) => compareCommand(spec, o));
}
