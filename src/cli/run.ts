// `schedlab run`: one cluster configuration over a trace, as a table or JSON.
import { Option, type Command } from 'commander';
import { addTraceOptions, BUNDLED_TRACE, engineOption, int, jsonObject, positive, prepareTrace, type TraceOptions } from '../cli-options.js';
import { ConfigError, DEFAULT_PROFILE, PROFILE_NAMES, resolveProfile, type ProfileOverrides } from '../model/profile.js';
import { SCHEDULER_NAMES } from '../policy/engine/index.js';
import { DEFAULT_PREDICTOR, PREDICTOR_NAMES } from '../policy/predictor/index.js';
import { ROUTER_NAMES } from '../policy/router/index.js';
import type { PerRequestRows } from '../sim/cpu/simulator.js';
import type { EngineChoice } from '../sim/job.js';
import { MAX_REPLICAS, resolveLane, type LaneSpec } from '../sim/lane.js';
import { assertWritableFile, writeAtomicChunks } from '../write-atomic.js';

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

type RunOptions = TraceOptions & ClusterOptions & { json?: boolean; perRequest?: string; engine: EngineChoice };

function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('--replicas <n>', 'model replicas behind the router', int('--replicas', 1, MAX_REPLICAS), 1)
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
    .option('--seed <k>', 'random seed (u32)', int('--seed', 0, 0xffffffff, 'u32'), 0)
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

const STATUS_NAMES = ['pending', 'waiting', 'running', 'done', 'rejected_max_model_len', 'rejected_kv_capacity'];

/** The per-request CSV, 64Ki rows at a time. */
function* perRequestCsv(rows: PerRequestRows): Generator<string> {
  const us = (v: number) => (v < 0 ? '' : String(v));
  const cached = rows.cachedTokens;
  yield 'request,arrival_us,replica,prompt_tokens,output_tokens,status,first_token_us,finish_us,preemptions' + (cached ? ',cached_tokens\n' : '\n');
  let lines: string[] = [];
  for (let i = 0; i < rows.arrivalUs.length; i++) {
    lines.push(
      `${i},${rows.arrivalUs[i]},${rows.replica[i] < 0 ? '' : rows.replica[i]},${rows.promptTokens[i]},${rows.outputTokens[i]},` +
        `${STATUS_NAMES[rows.status[i]]},${us(rows.firstTokenUs[i])},${us(rows.finishUs[i])},${rows.preemptions[i]}` +
        (cached ? `,${us(cached[i])}\n` : '\n'),
    );
    if (lines.length === 65536) {
      yield lines.join('');
      lines = [];
    }
  }
  yield lines.join('');
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

async function runCommand(o: RunOptions): Promise<void> {
  if (o.perRequest && o.engine === 'gpu') throw new ConfigError('--per-request rows exist only on the CPU engine; drop --engine gpu');
  if (o.perRequest) assertWritableFile(o.perRequest, '--per-request');
  const spec = laneSpec(o);
  const lane = resolveLane(spec);
  const { trace, config: traceConfig } = prepareTrace(o);
  const config = publicConfig(spec, traceConfig);
  const { summarizeRaw } = await import('../metrics/record.js');
  let summary;
  let engine: Record<string, unknown>;
  if (o.engine === 'cpu' || o.perRequest) {
    const { simulate } = await import('../sim/cpu/simulator.js');
    const { startProgress } = await import('../report/progress.js');
    const progress = startProgress('simulating', 'requests');
    const started = performance.now();
    const result = simulate(trace, lane, { perRequest: Boolean(o.perRequest), onProgress: progress.update });
    progress.stop();
    summary = summarizeRaw(result.raw, lane.profile.kvBlocks, lane.slo);
    engine = { engine: 'cpu', description: 'cpu: reference simulator, 1 thread', wall_s: (performance.now() - started) / 1000 };
    if (o.perRequest && result.perRequest) writeAtomicChunks(o.perRequest, perRequestCsv(result.perRequest));
  } else {
    const { runJobs } = await import('../sim/engine.js');
    const started = performance.now();
    const { results, backend } = await runJobs([{ trace, spec }], { engine: o.engine, threads: 1 });
    summary = summarizeRaw(results[0].raw, lane.profile.kvBlocks, lane.slo);
    engine = { engine: results[0].engine, description: backend.description, note: backend.note, fallback: results[0].fallback, wall_s: (performance.now() - started) / 1000 };
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...summary, config, engine }, null, 2) + '\n');
  } else {
    const { formatSummaryTable } = await import('../report/table.js');
    process.stdout.write(formatSummaryTable(summary, config, engine) + '\n');
  }
}

export function registerRun(program: Command): void {
  const run = program.command('run').description('simulate one cluster configuration over a trace and print its serving metrics');
  addTraceOptions(run, BUNDLED_TRACE);
  addClusterOptions(run);
  run
    .addOption(engineOption('cpu'))
    .option('--json', 'print one JSON object (fields in docs/cli.md)')
    .option('--per-request <file>', 'write one CSV row per request (CPU engine)')
    .action((o: RunOptions) => runCommand(o));
}
