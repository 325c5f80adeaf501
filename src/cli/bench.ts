// `schedlab bench`: wall times of the GPU engine and the CPU reference on the same grid of jobs.
import { Option, type Command } from 'commander';
import { addTraceOptions, BUNDLED_TRACE, int, prepareTrace, threadsOption, type TraceOptions } from '../cli-options.js';
import type { Job } from '../sim/job.js';
import { MAX_REPLICAS } from '../sim/lane.js';
import { progressFor } from './engines.js';

/** Lanes held at once: each is a job object in memory on both engines. */
export const MAX_BENCH_LANES = 100_000;

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

/** `bench --work`: the GPU engine's work counters (adapter-independent), no timing and no CPU run. */
async function workCommand(jobs: Job[], o: BenchOptions): Promise<void> {
  const [{ requireGpuEngine }, { workReport, formatWorkReport }] = await Promise.all([import('../sim/engine.js'), import('../sim/gpu/work-report.js')]);
  const { runGpuJobs } = await requireGpuEngine();
  const gpu = await runGpuJobs(jobs, { threads: o.threads, workCounters: true });
  const report = { backend: gpu.backend.description, ...workReport(gpu.results, gpu.hostWork) };
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(`backend ${report.backend}\n${formatWorkReport(report)}\n`);
}

async function benchCommand(o: BenchOptions): Promise<void> {
  const [{ requireGpuEngine }, { gridJobs, randomJobs }, { runCpuJobs, defaultThreads }, { firstDifference }, { windowTrace }, { resolveProfile }] =
    await Promise.all([
      import('../sim/engine.js'),
      import('../sim/compare.js'),
      import('../sim/cpu/pool.js'),
      import('../metrics/record.js'),
      import('../trace/trace.js'),
      import('../model/profile.js'),
    ]);
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
        `${jobs.length} lanes x ${trace.arrivalUs.length} requests (${requests} simulated requests in all)\n` +
        `GPU engine ${gpuS.toFixed(2)} s (${(requests / gpuS).toExponential(2)} requests/s)` +
        `${fallbacks ? `, ${fallbacks} lane(s) fell back to the CPU` : ''}\n` +
        `CPU reference, ${result.cpu_threads} thread(s) ${cpuS.toFixed(2)} s (${(requests / cpuS).toExponential(2)} requests/s)\n` +
        `ratio (CPU s / GPU s): ${result.ratio.toFixed(3)}x; records different: ${different}\n`,
    );
  }
  if (different > 0) process.exitCode = 1;
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('time the GPU engine against the CPU reference on a grid of configurations');
  addTraceOptions(bench, BUNDLED_TRACE);
  bench
    .option(
      '--lanes <n>',
      `configurations, at most ${MAX_BENCH_LANES} (every router x scheduler, rate scales 1/2/4, 2/4/8 replicas, seeds)`,
      int('--lanes', 1, MAX_BENCH_LANES, 'all are held in memory at once'),
      64,
    )
    .option('--replicas <n>', 'replicas of every configuration (default: 2, 4 and 8 in turn)', int('--replicas', 1, MAX_REPLICAS))
    .option('--threads <n>', 'CPU worker threads for the reference (default: all cores)', threadsOption('--threads'))
    .option('--profile <name>', 'serving profile of the grid (preset or .json file; default: the default preset)')
    .option('--random <n>', `instead of the grid: n random configurations as compare draws them (with --seed), at most ${MAX_BENCH_LANES}`, int('--random', 1, MAX_BENCH_LANES))
    .option('--seed <k>', 'seed of --random', int('--seed', 0, 0xffffffff, 'u32'), 11)
    .option('--work', "report the GPU engine's work counters (per lane instant: storage accesses, visits, loops; dispatches per submit) instead of timing")
    .addOption(new Option('--json', 'print {backend, lanes, gpu_s, cpu_s, cpu_threads, ratio, ...}'))
    .action((o: BenchOptions) => benchCommand(o));
}
