// schedlab command line. Exit codes: 0 success, 1 failure (or compare found differences), 2 bad input or config.
import { Command, Option } from 'commander';
import { addTraceOptions, BUNDLED_TRACE, int, jsonObject, positive, prepareTrace, type TraceOptions } from './cli-options.js';
import { DEFAULT_PROFILE, PROFILE_NAMES, resolveProfile, ConfigError, type ProfileOverrides } from './model/profile.js';
import { summarizeRaw, type MetricsSummary } from './metrics/record.js';
import { defaultBatching, SCHEDULER_NAMES } from './policy/engine/index.js';
import { DEFAULT_PREDICTOR, PREDICTOR_NAMES } from './policy/predictor/index.js';
import { ROUTER_NAMES } from './policy/router/index.js';
import { formatSummaryTable, formatComparison } from './report/table.js';
import { simulate, type PerRequestRows } from './sim/cpu/simulator.js';
import { registerEngineCommands } from './sim/commands.js';
import { releaseEngines, runJobs } from './sim/engine.js';
import { registerSweepCommands } from './sweep/commands.js';
import { registerPaperCommand } from './paper/command.js';
import type { EngineChoice, Job } from './sim/job.js';
import { resolveLane, type LaneSpec } from './sim/lane.js';
import { startProgress } from './report/progress.js';
import { writeAtomic } from './write-atomic.js';

interface ClusterOptions {
  replicas: number;
  router: string;
  routerParams?: Record<string, unknown>;
  scheduler: string;
  schedulerParams?: Record<string, unknown>;
  predictor: string;
  predictorParams?: Record<string, unknown>;
  profile: string;
  kvBlocks?: number;
  blockSize?: number;
  maxNumSeqs?: number;
  maxBatchedTokens?: number;
  maxModelLen?: number;
  seed: number;
  sloTtftMs: number;
  sloTpotMs: number;
  prefixCache: 'on' | 'off';
}

function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('--replicas <n>', 'model replicas behind the router', int('--replicas', 1), 1)
    .option('--router <name>', `router: ${ROUTER_NAMES.join(', ')}`, 'round-robin')
    .option('--router-params <json>', 'router parameters as a JSON object', jsonObject('--router-params'))
    .option('--scheduler <name>', `engine scheduler: ${SCHEDULER_NAMES.join(', ')}`, 'vllm-fcfs')
    .option('--scheduler-params <json>', 'scheduler parameters as a JSON object', jsonObject('--scheduler-params'))
    .option('--predictor <name>', `output-length predictor for policies that read one: ${PREDICTOR_NAMES.join(', ')}`, DEFAULT_PREDICTOR)
    .option('--predictor-params <json>', 'predictor parameters as a JSON object', jsonObject('--predictor-params'))
    .option('--profile <name>', `serving profile: ${PROFILE_NAMES.join(', ')} or a .json file`, DEFAULT_PROFILE)
    .option('--kv-blocks <n>', 'override: KV-cache blocks per replica', int('--kv-blocks', 1))
    .option('--block-size <n>', 'override: tokens per KV block', int('--block-size', 1))
    .option('--max-num-seqs <n>', 'override: max running requests per replica', int('--max-num-seqs', 1))
    .option('--max-batched-tokens <n>', 'override: token budget per iteration', int('--max-batched-tokens', 1))
    .option('--max-model-len <n>', 'override: longest prompt + output accepted', int('--max-model-len', 1))
    .addOption(new Option('--prefix-cache <mode>', 'prefix caching on every replica (needs a trace with prefix hashes: Mooncake or sessions:)').choices(['on', 'off']).default('off'))
    .option('--seed <k>', 'random seed (u32)', int('--seed'), 0)
    .option('--slo-ttft-ms <ms>', 'TTFT target for SLO attainment', positive('--slo-ttft-ms'), 2000)
    .option('--slo-tpot-ms <ms>', 'TPOT target for SLO attainment', positive('--slo-tpot-ms'), 100);
}

function laneSpec(o: ClusterOptions): LaneSpec {
  const overrides: ProfileOverrides = {
    kvBlocks: o.kvBlocks,
    blockSize: o.blockSize,
    maxNumSeqs: o.maxNumSeqs,
    maxBatchedTokens: o.maxBatchedTokens,
    maxModelLen: o.maxModelLen,
  };
  return {
    replicas: o.replicas,
    router: { name: o.router, params: o.routerParams },
    scheduler: { name: o.scheduler, params: o.schedulerParams },
    predictor: { name: o.predictor, params: o.predictorParams },
    profile: resolveProfile(o.profile, overrides),
    seed: o.seed,
    slo: { ttftMs: o.sloTtftMs, tpotMs: o.sloTpotMs },
    ...(o.prefixCache === 'on' ? { prefixCache: 'on' as const } : {}),
  };
}

function perRequestCsv(rows: PerRequestRows): string {
  const statusName = ['pending', 'waiting', 'running', 'done', 'rejected_max_model_len', 'rejected_kv_capacity'];
  const us = (v: number) => (v < 0 ? '' : String(v));
  const cached = rows.cachedTokens;
  const lines = ['request,arrival_us,replica,prompt_tokens,output_tokens,status,first_token_us,finish_us,preemptions' + (cached ? ',cached_tokens' : '')];
  for (let i = 0; i < rows.arrivalUs.length; i++) {
    const row = [i, rows.arrivalUs[i], rows.replica[i] < 0 ? '' : rows.replica[i], rows.promptTokens[i], rows.outputTokens[i], statusName[rows.status[i]], us(rows.firstTokenUs[i]), us(rows.finishUs[i]), rows.preemptions[i]];
    if (cached) row.push(us(cached[i]));
    lines.push(row.join(','));
  }
  return lines.join('\n') + '\n';
}

function publicConfig(spec: LaneSpec, trace: Record<string, unknown>) {
  const lane = resolveLane(spec);
  return {
    trace,
    replicas: lane.replicas,
    router: { name: lane.router.name, params: lane.routerParams },
    scheduler: { name: lane.scheduler.name, params: lane.schedulerParams },
    predictor: { name: lane.predictor.name, params: lane.predictorParams },
    profile: lane.profile,
    seed: lane.seed,
    slo: lane.slo,
    prefix_cache: lane.prefixCache ? 'on' : 'off',
  };
}

async function runCommand(o: TraceOptions & ClusterOptions & { json?: boolean; perRequest?: string; engine: EngineChoice }) {
  const { trace, config: traceConfig } = prepareTrace(o);
  const spec = laneSpec(o);
  const lane = resolveLane(spec);
  const config = publicConfig(spec, traceConfig);
  let summary: MetricsSummary;
  let engine: Record<string, unknown>;
  if (o.engine === 'cpu' || o.perRequest) {
    if (o.perRequest && o.engine === 'gpu') throw new ConfigError('--per-request rows exist only on the CPU engine; drop --engine gpu');
    const progress = startProgress('simulating', 'requests');
    const started = performance.now();
    const result = simulate(trace, lane, { perRequest: Boolean(o.perRequest), onProgress: progress.update });
    progress.stop();
    summary = summarizeRaw(result.raw, lane.profile.kvBlocks, lane.slo);
    engine = { engine: 'cpu', description: 'cpu: reference simulator, 1 thread', wall_s: (performance.now() - started) / 1000 };
    if (o.perRequest && result.perRequest) writeAtomic(o.perRequest, perRequestCsv(result.perRequest));
  } else {
    const started = performance.now();
    const { results, backend } = await runJobs([{ trace, spec }], { engine: o.engine, threads: 1 });
    summary = summarizeRaw(results[0].raw, lane.profile.kvBlocks, lane.slo);
    engine = { engine: results[0].engine, description: backend.description, note: backend.note, fallback: results[0].fallback, wall_s: (performance.now() - started) / 1000 };
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...summary, config, engine }, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummaryTable(summary, config, engine) + '\n');
  }
}

/**
 * The pairs the demo compares: every scheduler behind least-outstanding (today's practice), and
 * every router in front of vLLM's FCFS and of LARRY.
 */
const DEMO_PAIRS: [string, string][] = [
  ...SCHEDULER_NAMES.map((s) => ['least-outstanding', s] as [string, string]),
  ...ROUTER_NAMES.filter((r) => r !== 'least-outstanding').flatMap((r) => [[r, 'vllm-fcfs'], [r, 'larry']] as [string, string][]),
];

async function demoCommand(o: { engine: EngineChoice; json?: boolean; replicas: number; rateScale: number; duration?: number; kvBlocks?: number }) {
  const traceOptions: TraceOptions = { trace: BUNDLED_TRACE, format: 'azure', start: 0, duration: o.duration, rateScale: o.rateScale };
  const { trace, config } = prepareTrace(traceOptions);
  const jobs: Job[] = DEMO_PAIRS.map(([router, scheduler]) => ({
    trace,
    spec: {
      replicas: o.replicas,
      router: { name: router },
      scheduler: { name: scheduler },
      profile: resolveProfile(DEFAULT_PROFILE, { kvBlocks: o.kvBlocks, maxBatchedTokens: defaultBatching(scheduler).wholePrompts ? undefined : 2048 }),
      seed: 0,
    },
  }));
  process.stderr.write(
    `schedlab demo: ${trace.arrivalUs.length} requests of the Azure LLM conversation trace (2023, CC-BY 4.0) at ${o.rateScale}x rate on ` +
      `${o.replicas} replicas of ${DEFAULT_PROFILE}${o.kvBlocks ? ` with ${o.kvBlocks} KV blocks` : ''}; ${jobs.length} router x scheduler pairs\n`,
  );
  const progress = startProgress('configurations', 'configs');
  const started = performance.now();
  const { results, backend } = await runJobs(jobs, { engine: o.engine, onProgress: progress.update });
  progress.stop();
  const wall = (performance.now() - started) / 1000;
  const rows = jobs.map((job, i) => {
    const lane = resolveLane(job.spec);
    return { router: job.spec.router.name, scheduler: job.spec.scheduler.name, engine: results[i].engine, summary: summarizeRaw(results[i].raw, lane.profile.kvBlocks, lane.slo) };
  });
  if (o.json) {
    process.stdout.write(JSON.stringify({ trace: config, backend, wall_s: wall, rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatComparison(rows) + '\n');
  process.stdout.write(`engine: ${backend.description}${backend.note ? ` (${backend.note})` : ''}; ${wall.toFixed(1)} s wall\n`);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('schedlab')
    .description('Replay LLM request traces against routers x engine schedulers; CPU reference or thousands of lanes on WebGPU')
    .showHelpAfterError()
    .exitOverride(); // before adding commands, which inherit it: errors come back to main() for exit code 2

  const run = program.command('run').description('simulate one cluster configuration over a trace and print its serving metrics');
  addTraceOptions(run, BUNDLED_TRACE);
  addClusterOptions(run);
  run
    .addOption(new Option('--engine <engine>', 'cpu reference, gpu engine, or auto (gpu if an adapter exists)').choices(['cpu', 'gpu', 'auto']).default('cpu'))
    .option('--json', 'print one JSON object (fields in docs/cli.md)')
    .option('--per-request <file>', 'write one CSV row per request (CPU engine)')
    .action((o) => runCommand(o));

  program
    .command('demo')
    .description('compare every scheduler (behind least-outstanding) and every router (in front of vllm-fcfs and larry) on the bundled Azure conversation trace')
    .addOption(new Option('--engine <engine>', 'engine').choices(['cpu', 'gpu', 'auto']).default('auto'))
    .option('--replicas <n>', 'replicas', int('--replicas', 1), 4)
    .option('--rate-scale <x>', 'load multiplier', positive('--rate-scale'), 10)
    .option('--duration <seconds>', 'only the first seconds of the trace', positive('--duration'))
    .option('--kv-blocks <n>', 'KV blocks per replica (a third of the profile\'s, to show memory pressure)', int('--kv-blocks', 1), 10000)
    .option('--json', 'print JSON')
    .action((o) => demoCommand(o));

  registerEngineCommands(program);
  registerSweepCommands(program);
  registerPaperCommand(program);
  return program;
}


export async function main(argv = process.argv): Promise<number> {
  // Commands set process.exitCode (compare: 1 when records differ); main() owns it and returns it.
  const outer = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code?.startsWith('commander.')) {
      // commander already printed the message
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err.name === 'ConfigError' || err.name === 'TraceError') {
      process.stderr.write(`schedlab: ${err.message}\n`);
      return 2;
    }
    if (err.name === 'GpuEngineError') {
      process.stderr.write(`schedlab: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`schedlab: ${err.stack ?? err.message}\n`);
    return 1;
  } finally {
    process.exitCode = outer;
    await releaseEngines();
  }
}

if (process.argv[1] && /cli\.ts$|schedlab(\.js)?$/.test(process.argv[1])) {
  // Explicit exit: dawn.node can keep the event loop alive after the device is released.
  main().then((code) => process.exit(code));
}
