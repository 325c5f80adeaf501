// `schedlab sweep <spec> --out <dir>`: expand, shard, run in batches on the chosen engine, journal
// every finished configuration, and write the result set atomically once all are done.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { ConfigError } from '../model/profile.js';
import { summarizeRaw } from '../metrics/record.js';
import { defaultThreads } from '../sim/cpu/pool.js';
import type { BackendInfo, EngineChoice, Job } from '../sim/job.js';
import { DEFAULT_SLO } from '../sim/lane.js';
import { loadTrace } from '../trace/readers.js';
import { isSyntheticSpec, parseSyntheticSpec } from '../trace/synthetic.js';
import { scaleTrace, windowTrace, type Trace } from '../trace/trace.js';
import { chooseEngine, runJobs } from '../sim/engine.js';
import { expandSpec, hashOf, type SweepConfig, type TraceRef } from './expand.js';
import { appendJournal, columnsFor, FILES, makeRow, readJournal, readManifest, writeResults, type Manifest, type Row } from './results.js';
import { writeAtomic } from '../write-atomic.js';
import { parseShard, selectShard, type Shard } from './shard.js';
import { loadSpec } from './spec.js';

export interface SweepOptions {
  out: string;
  engine?: EngineChoice;
  /** Continue a sweep in `out`: configurations already in its journal are not run again. */
  resume?: boolean;
  /** "i/n" or {index, count}: run only the i-th of n deterministic slices. */
  shard?: string | Shard;
  /** CPU worker threads (default: all cores). */
  threads?: number;
  /** Configurations handed to the engine at a time (default: 8 per CPU thread, 4096 on the GPU). */
  batch?: number;
  /** Stop after running this many new configurations (the journal keeps them; --resume continues). */
  maxConfigs?: number;
  /** Progress on stderr: 'auto' (a bar on a terminal, a line every 10 s otherwise), or 'none'. */
  progress?: 'auto' | 'none';
}

export interface SweepOutcome {
  out: string;
  complete: boolean;
  rows: number;
  ran: number;
  reused: number;
  backend?: BackendInfo;
  wallS: number;
}

class TraceCache {
  private files = new Map<string, Trace>();
  private prepared = new Map<string, Trace>();
  get(ref: TraceRef, config: SweepConfig): Trace {
    const fileKey = `${ref.resolvedPath}\u0000${ref.format}\u0000${ref.skipBadRows}`;
    let file = this.files.get(fileKey);
    if (!file) {
      file = isSyntheticSpec(ref.resolvedPath)
        ? parseSyntheticSpec(ref.resolvedPath)
        : loadTrace(ref.resolvedPath, { format: ref.format as never, skipBadRows: ref.skipBadRows });
      this.files.set(fileKey, file);
    }
    const key = `${fileKey}\u0000${ref.startS}\u0000${ref.durationS}\u0000${ref.rateScale}`;
    let t = this.prepared.get(key);
    if (!t) {
      if (this.prepared.size >= 256) this.prepared.clear();
      t = scaleTrace(windowTrace(file, ref.startS, ref.durationS ?? Infinity), ref.rateScale);
      if (t.arrivalUs.length === 0) {
        throw new ConfigError(`configuration #${config.index}: trace ${ref.name} window [${ref.startS} s, +${ref.durationS ?? '∞'} s) holds no request`);
      }
      this.prepared.set(key, t);
    }
    if (config.lane.prefixCache === 'on' && !t.prefixHashes) {
      throw new ConfigError(`configuration #${config.index}: prefixCache is on but trace ${ref.name} has no prefix hashes (Mooncake hash_ids or a sessions: workload)`);
    }
    return t;
  }
}

/** Every configuration of a spec with its prepared trace, for running outside a sweep (compare). */
export function specJobs(specPath: string): { configs: SweepConfig[]; jobs: Job[] } {
  const { configs } = expandSpec(loadSpec(specPath));
  const traces = new TraceCache();
  return { configs, jobs: configs.map((c) => ({ trace: traces.get(c.trace, c), spec: c.lane })) };
}

interface Reporter {
  update(done: number): void;
  stop(): void;
}

function startReporter(total: number, initial: number, mode: 'auto' | 'none'): Reporter {
  if (mode === 'none' || total === 0) return { update() {}, stop() {} };
  const started = Date.now();
  const rate = (done: number) => {
    const s = (Date.now() - started) / 1000;
    return s > 0 ? (done - initial) / s : 0;
  };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: 'sweep [{bar}] {value}/{total} configs | {rate} configs/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, initial, { rate: '0.0' });
    return {
      update: (done) => bar.update(done, { rate: rate(done).toFixed(1) }),
      stop: () => bar.stop(),
    };
  }
  let last = Date.now();
  let printed = initial;
  return {
    update(done) {
      if (done === printed || (Date.now() - last < 10_000 && done < total)) return;
      last = Date.now();
      printed = done;
      const r = rate(done);
      const eta = r > 0 ? Math.round((total - done) / r) : NaN;
      process.stderr.write(`sweep: ${done}/${total} configurations, ${r.toFixed(1)}/s, ETA ${Number.isFinite(eta) ? `${eta} s` : '?'}\n`);
    },
    stop() {},
  };
}

export async function runSweep(specPath: string, o: SweepOptions): Promise<SweepOutcome> {
  const started = performance.now();
  const loaded = loadSpec(specPath);
  const shard = typeof o.shard === 'string' ? parseShard(o.shard) : (o.shard ?? null);
  const engine = o.engine ?? 'auto';
  const exp = expandSpec(loaded);
  const mine = selectShard(exp.configs, shard);
  const columns = columnsFor(exp.params);
  const out = resolve(o.out);
  const specHash = hashOf(loaded.spec);
  mkdirSync(out, { recursive: true });
  // A directory whose journal holds no row (e.g. --engine gpu failed at once) may be reused freely.
  const hasJournal = existsSync(join(out, FILES.journal)) && statSync(join(out, FILES.journal)).size > 0;
  if (hasJournal && !o.resume) {
    throw new ConfigError(`${o.out} already holds a sweep; pass --resume to continue it, or choose another --out`);
  }
  if (hasJournal && existsSync(join(out, FILES.manifest))) {
    const prev = readManifest(out);
    const same = (a: Shard | null, b: Shard | null) => (a === null ? b === null : b !== null && a.index === b.index && a.count === b.count);
    if (!same(prev.shard, shard)) {
      throw new ConfigError(`${o.out} holds shard ${prev.shard ? `${prev.shard.index}/${prev.shard.count}` : '(none)'}; resume it with the same --shard`);
    }
  }
  const journal = o.resume ? readJournal(out) : new Map<string, Row>();
  const done = new Map<number, Row>();
  for (const c of mine) {
    const row = journal.get(c.id);
    if (row) done.set(c.index, { ...row, config_index: c.index });
  }
  const reused = done.size;
  const todo = mine.filter((c) => !done.has(c.index));
  const manifest: Manifest = {
    schedlab_sweep: 1,
    name: loaded.spec.name,
    spec_path: specPath,
    spec: loaded.spec,
    spec_hash: specHash,
    shard,
    generated: exp.generated,
    configs: exp.configs.length,
    expected_rows: mine.length,
    rows: done.size,
    complete: false,
    skipped_invalid: exp.skipped,
    columns,
  };
  writeAtomic(join(out, FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  if (exp.skipped > 0) {
    process.stderr.write(`sweep: left out ${exp.skipped} invalid configuration(s) (invalid: skip), e.g. ${exp.skippedReasons[0]}\n`);
  }
  const threads = o.threads ?? defaultThreads();
  // Small batches on the CPU keep the journal fresh (an interrupted sweep loses at most one batch).
  const resolved = todo.length > 0 ? (await chooseEngine(engine)).engine : 'cpu';
  const batchSize = Math.max(1, o.batch ?? (resolved === 'cpu' ? Math.max(16, threads * 8) : 4096));
  const limit = o.maxConfigs ?? Infinity;
  const traces = new TraceCache();
  const reporter = startReporter(mine.length, done.size, o.progress ?? 'auto');
  let backend: BackendInfo | undefined;
  let ran = 0;
  const onSigint = () => {
    reporter.stop();
    process.stderr.write(`\nsweep interrupted: ${done.size}/${mine.length} configurations are saved in ${join(o.out, FILES.journal)}; rerun with --resume to finish\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    for (let at = 0; at < todo.length && ran < limit; at += batchSize) {
      const batch = todo.slice(at, Math.min(at + batchSize, todo.length, at + (limit - ran)));
      const jobs: Job[] = batch.map((c) => ({ trace: traces.get(c.trace, c), spec: c.lane }));
      const before = done.size;
      const r = await runJobs(jobs, { engine, threads, onProgress: (n) => reporter.update(before + n) });
      backend = r.backend;
      const rows = batch.map((c, i) => {
        const res = r.results[i];
        const summary = summarizeRaw(res.raw, c.lane.profile.kvBlocks, c.lane.slo ?? DEFAULT_SLO);
        return makeRow(c, summary, res.engine, res.fallback ?? (res.engine === 'cpu' ? r.backend.note : undefined));
      });
      appendJournal(out, rows);
      rows.forEach((row, i) => done.set(batch[i].index, row));
      ran += batch.length;
      reporter.update(done.size);
    }
  } finally {
    reporter.stop();
    process.off('SIGINT', onSigint);
  }
  const complete = done.size === mine.length;
  const wallS = (performance.now() - started) / 1000;
  if (complete) await writeResults(out, columns, [...done.values()]);
  writeAtomic(
    join(out, FILES.manifest),
    JSON.stringify({ ...manifest, rows: done.size, complete, backend, wall_s: wallS }, null, 2) + '\n',
  );
  return { out, complete, rows: done.size, ran, reused, backend, wallS };
}

/** CLI entry: runs the sweep and prints where the results are. */
export async function sweepCommand(
  specPath: string,
  o: { out: string; engine?: EngineChoice; resume?: boolean; shard?: string; threads?: number; batch?: number; maxConfigs?: number },
): Promise<SweepOutcome> {
  const r = await runSweep(specPath, o);
  const engineLine = r.backend ? `; engine ${r.backend.description}${r.backend.note ? ` (${r.backend.note})` : ''}` : '';
  if (r.complete) {
    process.stdout.write(`sweep: ${r.rows} configurations (${r.ran} run, ${r.reused} from the journal) in ${r.wallS.toFixed(1)} s${engineLine}\n`);
    process.stdout.write(`wrote ${join(o.out, FILES.csv)} and ${join(o.out, FILES.parquet)}\n`);
  } else {
    process.stdout.write(`sweep: stopped after ${r.ran} new configurations, ${r.rows} done in all; rerun with --resume to finish${engineLine}\n`);
  }
  return r;
}
