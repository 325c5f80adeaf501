// `schedlab demo`: every scheduler and every router on the bundled Azure conversation trace.
import type { Command } from 'commander';
import { BUNDLED_TRACE, engineOption, int, positive, prepareTrace, type TraceOptions } from '../cli-options.js';
import { DEFAULT_PROFILE, resolveProfile } from '../model/profile.js';
import { defaultBatching, SCHEDULER_NAMES } from '../policy/engine/index.js';
import { ROUTER_NAMES } from '../policy/router/index.js';
import type { EngineChoice, Job } from '../sim/job.js';
import { MAX_REPLICAS, resolveLane, type LaneSpec } from '../sim/lane.js';

interface DemoOptions {
  engine: EngineChoice;
  json?: boolean;
  replicas: number;
  rateScale: number;
  duration?: number;
  kvBlocks?: number;
}

/**
 * The pairs the demo compares: every scheduler behind least-outstanding (today's practice), and
 * every router in front of vLLM's FCFS and of LARRY.
 */
const DEMO_PAIRS: [string, string][] = [
  ...SCHEDULER_NAMES.map((s) => ['least-outstanding', s] as [string, string]),
  ...ROUTER_NAMES.filter((r) => r !== 'least-outstanding').flatMap((r) => [[r, 'vllm-fcfs'], [r, 'larry']] as [string, string][]),
];

async function demoCommand(o: DemoOptions): Promise<void> {
  const specs: LaneSpec[] = DEMO_PAIRS.map(([router, scheduler]) => ({
    replicas: o.replicas,
    router: { name: router },
    scheduler: { name: scheduler },
    profile: resolveProfile(DEFAULT_PROFILE, { kvBlocks: o.kvBlocks, maxBatchedTokens: defaultBatching(scheduler).wholePrompts ? undefined : 2048 }),
    seed: 0,
  }));
  const lanes = specs.map(resolveLane); // every configuration is checked before any work starts
  const traceOptions: TraceOptions = { trace: BUNDLED_TRACE, format: 'azure', start: 0, duration: o.duration, rateScale: o.rateScale };
  const { trace, config } = prepareTrace(traceOptions);
  const demoJobs: Job[] = specs.map((spec) => ({ trace, spec }));
  process.stderr.write(
    `schedlab demo: ${trace.arrivalUs.length} requests of the Azure LLM conversation trace (2023, CC-BY 4.0) at ${o.rateScale}x rate on ` +
      `${o.replicas} replicas of ${DEFAULT_PROFILE}${o.kvBlocks ? ` with ${o.kvBlocks} KV blocks` : ''}; ${demoJobs.length} router x scheduler pairs\n`,
  );
  const [{ runJobs }, { startProgress }, { summarizeRaw }, { formatComparison }] = await Promise.all([
    import('../sim/engine.js'),
    import('../report/progress.js'),
    import('../metrics/record.js'),
    import('../report/table.js'),
  ]);
  const progress = startProgress('configurations', 'configs');
  const started = performance.now();
  const { results, backend } = await runJobs(demoJobs, { engine: o.engine, onProgress: progress.update }).finally(() => progress.stop());
  const wall = (performance.now() - started) / 1000;
  const rows = demoJobs.map((job, i) => ({
    router: job.spec.router.name,
    scheduler: job.spec.scheduler.name,
    engine: results[i].engine,
    summary: summarizeRaw(results[i].raw, lanes[i].profile.kvBlocks, lanes[i].slo),
  }));
  if (o.json) {
    process.stdout.write(JSON.stringify({ trace: config, backend, wall_s: wall, rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatComparison(rows) + '\n');
  process.stdout.write(`engine: ${backend.description}${backend.note ? ` (${backend.note})` : ''}; ${wall.toFixed(1)} s wall\n`);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('compare every scheduler (behind least-outstanding) and every router (in front of vllm-fcfs and larry) on the bundled Azure conversation trace')
    .addOption(engineOption('auto'))
    .option('--replicas <n>', 'replicas', int('--replicas', 1, MAX_REPLICAS), 4)
    .option('--rate-scale <x>', 'load multiplier', positive('--rate-scale'), 10)
    .option('--duration <seconds>', 'only the first seconds of the trace', positive('--duration'))
    .option('--kv-blocks <n>', "KV blocks per replica (a third of the profile's, to show memory pressure)", int('--kv-blocks', 1), 10000)
    .option('--json', 'print JSON')
    .action((o: DemoOptions) => demoCommand(o));
}
