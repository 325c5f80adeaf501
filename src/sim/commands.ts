// `schedlab compare` and `schedlab bench`: the GPU engine against the CPU reference, on the same
// jobs, in one process. Compare checks records field for field; bench times both engines.
import { Option, type Command } from 'commander';
import { addTraceOptions, BUNDLED_TRACE, int, prepareTrace, type TraceOptions } from '../cli-options.js';
import { firstDifference } from '../metrics/record.js';
import { ConfigError, resolveProfile } from '../model/profile.js';
import { startProgress } from '../report/progress.js';
import { specJobs } from '../sweep/sweep.js';
import { runCpuJobs, defaultThreads } from './cpu/pool.js';
import { compareJobs, gridJobs, randomJobs } from './compare.js';
import { requireGpuEngine } from './engine.js';
import type { Job } from './job.js';
import { windowTrace } from '../trace/trace.js';

function describeJob(job: Job): string {
  const p = job.spec.profile;
  return (
    `${job.spec.router.name} x ${job.spec.scheduler.name}, ${job.spec.replicas} replica(s), ${p.name}` +
    ` kv ${p.kvBlocks}x${p.blockSize}, seqs ${p.maxNumSeqs}, tokens ${p.maxBatchedTokens}, ${job.trace.arrivalUs.length} requests`
  );
}

function progressFor(label: string) {
  const bars = { gpu: startProgress(`${label} gpu`, 'configs'), cpu: startProgress(`${label} cpu`, 'configs') };
  return {
    update: (engine: 'gpu' | 'cpu', done: number, total: number) => {
      if (engine === 'cpu') bars.gpu.stop();
      bars[engine].update(done, total);
    },
    stop: () => {
      bars.gpu.stop();
      bars.cpu.stop();
    },
  };
}

interface CompareOptions extends TraceOptions {
  configs: number;
  seed: number;
  threads?: number;
  json?: boolean;
}

async function compareCommand(specPath: string | undefined, o: CompareOptions): Promise<void> {
  let jobs: Job[];
  let labels: string[];
  let source: Record<string, unknown>;
  if (specPath) {
    const fromSpec = specJobs(specPath);
    jobs = fromSpec.jobs;
    labels = fromSpec.configs.map((c, i) => `config ${c.index} (${describeJob(jobs[i])})`);
    source = { spec: specPath };
  } else {
    const { trace, config } = prepareTrace(o);
    jobs = randomJobs(trace, o.configs, o.seed);
    labels = jobs.map((job, i) => `#${i} ${describeJob(job)}`);
    source = { trace: config, configs: o.configs, seed: o.seed };
    process.stderr.write(`compare: ${o.configs} random configurations drawn with --seed ${o.seed} (replay with the same seed)\n`);
  }
  if (jobs.length === 0) throw new ConfigError('compare: no configuration to run');
  await requireGpuEngine();
  const progress = progressFor('compare');
  const r = await compareJobs(jobs, { threads: o.threads, onProgress: progress.update }).finally(() => progress.stop());
  const different = r.rows.filter((row) => !row.equal).length;
  const equal = r.rows.length - different;
  const fallbacks = r.rows.filter((row) => row.engine === 'cpu');
  const ratio = r.cpuSeconds / r.gpuSeconds;
  const summary = `${equal} equal, ${different} different`;
  if (o.json) {
    const rows = r.rows.map((row, i) => ({ ...row, config: labels[i] }));
    const out = {
      ...source,
      backend: r.backend,
      equal,
      different,
      gpu_fallback_lanes: fallbacks.length,
      gpu_s: r.gpuSeconds,
      cpu_s: r.cpuSeconds,
      cpu_threads: r.cpuThreads,
      ratio,
      rows,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    process.stderr.write(summary + '\n');
  } else {
    for (const row of r.rows) {
      const verdict = row.equal ? 'equal' : `DIFFERENT at ${row.difference} (CPU vs GPU)`;
      const fell = row.fallback ? ` [ran on the CPU: ${row.fallback}]` : '';
      process.stdout.write(`${labels[row.index]}: ${verdict}${fell}\n`);
    }
    process.stdout.write(`backend ${r.backend}\n`);
    if (fallbacks.length > 0) {
      const byReason = new Map<string, number>();
      for (const row of fallbacks) byReason.set(row.fallback ?? 'unknown', (byReason.get(row.fallback ?? 'unknown') ?? 0) + 1);
      const reasons = [...byReason].map(([why, n]) => `${n} ${why}`).join('; ');
      process.stdout.write(`${fallbacks.length} configuration(s) fell back to the CPU reference: ${reasons}\n`);
    }
    process.stdout.write(
      `wall time: GPU engine ${r.gpuSeconds.toFixed(2)} s, CPU reference (${r.cpuThreads} thread(s)) ${r.cpuSeconds.toFixed(2)} s; ` +
        `GPU speed-up ${ratio.toFixed(3)}x\n`,
    );
    process.stdout.write(summary + '\n');
  }
  if (different > 0) process.exitCode = 1;
}

interface BenchOptions extends TraceOptions {
  lanes: number;
  replicas?: number;
  threads?: number;
  json?: boolean;
  work?: boolean;
  random?: number;
  seed: number;
  profile?: string;
}

/** `bench --work`: the GPU engine's work counters, no timing and no CPU run. */
async function workCommand(jobs: Job[], o: BenchOptions): Promise<void> {
  const { runGpuJobs } = await requireGpuEngine();
  const { workReport, formatWorkReport } = await import('./gpu/work-report.js');
  const gpu = await runGpuJobs(jobs, { threads: o.threads, workCounters: true });
  const report = { backend: gpu.backend.description, ...workReport(gpu.results, gpu.hostWork) };
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(`backend ${report.backend}\n${formatWorkReport(report)}\n`);
}

async function benchCommand(o: BenchOptions): Promise<void> {
  const { trace, config } = prepareTrace(o);
  const profile = o.profile === undefined ? undefined : resolveProfile(o.profile);
  const jobs = o.random ? randomJobs(trace, o.random, o.seed) : gridJobs(trace, o.lanes, { replicas: o.replicas, profile });
  if (o.work) return workCommand(jobs, o);
  const threads = o.threads ?? defaultThreads();
  const { runGpuJobs } = await requireGpuEngine();
  // Pipeline compiles are a one-time cost per process, not engine speed: warm every family first.
  await runGpuJobs(gridJobs(windowTrace(trace, 0, 1e-6 + trace.arrivalUs[0] / 1e6), 15));
  const progress = progressFor('bench');
  let t0 = performance.now();
  const gpu = await runGpuJobs(jobs, { threads, onProgress: (d, t) => progress.update('gpu', d, t) });
  const gpuS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const cpu = await runCpuJobs(jobs, threads, (d, t) => progress.update('cpu', d, t));
  const cpuS = (performance.now() - t0) / 1000;
  progress.stop();
  const requests = jobs.reduce((a, j) => a + j.trace.arrivalUs.length, 0);
  const fallbacks = gpu.results.filter((r) => r.engine === 'cpu').length;
  const different = jobs.filter((_, i) => firstDifference(cpu[i].raw, gpu.results[i].raw) !== null).length;
  const result = {
    backend: gpu.backend.description,
    lanes: jobs.length,
    replicas: o.replicas ?? '2/4/8',
    gpu_s: gpuS,
    cpu_s: cpuS,
    cpu_threads: Math.min(threads, jobs.length),
    ratio: cpuS / gpuS,
    simulated_requests: requests,
    gpu_fallback_lanes: fallbacks,
    different,
    trace: config,
  };
  if (o.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    process.stdout.write(
      `backend ${result.backend}\n` +
        `${o.lanes} lanes x ${trace.arrivalUs.length} requests (${requests} simulated requests in all)\n` +
        `GPU engine ${gpuS.toFixed(2)} s (${(requests / gpuS).toExponential(2)} requests/s)` +
        `${fallbacks ? `, ${fallbacks} lane(s) fell back to the CPU` : ''}\n` +
        `CPU reference, ${result.cpu_threads} thread(s) ${cpuS.toFixed(2)} s (${(requests / cpuS).toExponential(2)} requests/s)\n` +
        `ratio (CPU s / GPU s): ${result.ratio.toFixed(3)}x; records different: ${different}\n`,
    );
  }
  if (different > 0) process.exitCode = 1;
}

export function registerEngineCommands(program: Command): void {
  const compare = program
    .command('compare')
    .description('run configurations on the GPU engine and the CPU reference and check that every record is identical')
    .argument('[spec]', 'a sweep spec (YAML/JSON): compare all its configurations; without it, --configs random ones over --trace');
  addTraceOptions(compare, BUNDLED_TRACE);
  compare
    .option('--configs <n>', 'random configurations to draw (biased toward memory pressure, preemption storms, bursts, ties)', int('--configs', 1), 200)
    .option('--seed <k>', 'seed of the random configurations', int('--seed'), 1)
    .option('--threads <n>', 'CPU worker threads (default: all cores)', int('--threads', 1))
    .option('--json', 'print one JSON object (the summary line goes to stderr)')
    .action((spec: string | undefined, o: CompareOptions) => compareCommand(spec, o));

  const bench = program.command('bench').description('time the GPU engine against the CPU reference on a grid of configurations');
  addTraceOptions(bench, BUNDLED_TRACE);
  bench
    .option('--lanes <n>', 'configurations (every router x scheduler, rate scales 1/2/4, 2/4/8 replicas, seeds)', int('--lanes', 1), 64)
    .option('--replicas <n>', 'replicas of every configuration (default: 2, 4 and 8 in turn)', int('--replicas', 1))
    .option('--threads <n>', 'CPU worker threads for the reference (default: all cores)', int('--threads', 1))
    .option('--profile <name>', 'serving profile of the grid (preset or .json file; default: the default preset)')
    .option('--random <n>', 'instead of the grid: n random configurations as compare draws them (with --seed)', int('--random', 1))
    .option('--seed <k>', 'seed of --random', int('--seed'), 11)
    .option('--work', "report the GPU engine's work counters (per lane instant: storage accesses, visits, loops; dispatches per submit) instead of timing")
    .addOption(new Option('--json', 'print {backend, lanes, gpu_s, cpu_s, cpu_threads, ratio, ...}'))
    .action((o: BenchOptions) => benchCommand(o));
}
