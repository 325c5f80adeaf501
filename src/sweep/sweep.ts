// `schedlab sweep <spec> --out <dir>`: check the spec's configurations, take the directory's lock,
// run the shard's configurations on the chosen engine, journal each as it finishes, and write the
// result set atomically once all are done. On the CPU one worker pool serves the whole sweep and is
// fed continuously; on the GPU, configurations go in batches.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../model/profile.js';
import { summarizeRaw } from '../metrics/record.js';
import { startProgress } from '../report/progress.js';
import { CpuPool, defaultThreads } from '../sim/cpu/pool.js';
import { chooseEngine, runJobs } from '../sim/engine.js';
import type { BackendInfo, EngineChoice, Job, JobResult } from '../sim/job.js';
import { DEFAULT_SLO } from '../sim/lane.js';
import { loadTrace } from '../trace/readers.js';
import { isSyntheticSpec, parseSyntheticSpec } from '../trace/synthetic.js';
import { scaledWindowProblem, scaleTrace, windowRange, windowTrace, type Trace } from '../trace/trace.js';
import { assertOutputDir, writeAtomic } from '../write-atomic.js';
import { hashOf, SpecExpansion, type SweepConfig, type TraceRef, type Validation } from './expand.js';
import { lockDirectory } from './lock.js';
import { assertResumable, columnsFor, FILES, JournalWriter, makeRow, readManifest, RESULT_FORMAT, RowSelection, scanJournal, writeResults, type Manifest } from './results.js';
import { inShard, parseShard, type Shard } from './shard.js';
import { loadSpec, type LoadedSpec } from './spec.js';

export interface SweepOptions {
  out: string;
  engine?: EngineChoice;
  /** Continue a sweep in `out`: configurations already in its journal are not run again. */
  resume?: boolean;
  /** "i/n" or {index, count}: run only the i-th of n deterministic slices. */
  shard?: string | Shard;
  /** CPU worker threads (default: all cores). */
  threads?: number;
  /** GPU engine: configurations handed to it at a time (default 4096). */
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

const noRequest = (ref: TraceRef) => `trace ${ref.name} window [${ref.startS} s, +${ref.durationS ?? '∞'} s) holds no request`;

/** Trace files loaded once, and their windows at each rate scale (the most recent 256 kept). */
class TraceCache {
  private files = new Map<string, Trace>();
  private prepared = new Map<string, Trace>();

  private file(ref: TraceRef): Trace {
    const key = `${ref.resolvedPath}\u0000${ref.format}\u0000${ref.skipBadRows}`;
    let file = this.files.get(key);
    if (!file) {
      file = isSyntheticSpec(ref.resolvedPath)
        ? parseSyntheticSpec(ref.resolvedPath)
        : loadTrace(ref.resolvedPath, { format: ref.format as never, skipBadRows: ref.skipBadRows });
      this.files.set(key, file);
    }
    return file;
  }

  /** The prepared trace, or a TraceError / ConfigError saying why there is none. */
  get(ref: TraceRef): Trace {
    const key = `${ref.resolvedPath}\u0000${ref.format}\u0000${ref.skipBadRows}\u0000${ref.startS}\u0000${ref.durationS}\u0000${ref.rateScale}`;
    let t = this.prepared.get(key);
    if (!t) {
      if (this.prepared.size >= 256) this.prepared.clear();
      t = scaleTrace(windowTrace(this.file(ref), ref.startS, ref.durationS ?? Infinity), ref.rateScale);
      if (t.arrivalUs.length === 0) throw new ConfigError(noRequest(ref));
      this.prepared.set(key, t);
    }
    return t;
  }

  /** Why a configuration's trace cannot be prepared (a window without requests, a rate scale beyond the limits), or null; builds nothing. */
  check(ref: TraceRef, prefixCache: boolean): string | null {
    const file = this.file(ref);
    if (prefixCache && !file.prefixHashes) return `prefixCache is on but trace ${ref.name} has no prefix hashes (Mooncake hash_ids or a sessions: workload)`;
    const range = windowRange(file, ref.startS, ref.durationS ?? Infinity);
    if (range.hi === range.lo) return noRequest(ref);
    return scaledWindowProblem(file, range, ref.rateScale)?.message ?? null;
  }
}

/**
 * Every valid configuration of a spec, with its prepared trace, in batches (compare). The spec is
 * loaded and checked at once; the batches are built as they are taken.
 */
export function specJobBatches(specPath: string, batchSize: number): { total: number; batches: Generator<{ configs: SweepConfig[]; jobs: Job[] }> } {
  const exp = new SpecExpansion(loadSpec(specPath));
  const traces = new TraceCache();
  const validation = exp.validate((ref, prefixCache) => traces.check(ref, prefixCache));
  function* batches() {
    let batch: SweepConfig[] = [];
    for (let i = 0; i <= exp.generated; i++) {
      if (i < exp.generated && !validation.leftOut?.[i]) batch.push(exp.config(i));
      if (batch.length === batchSize || (i === exp.generated && batch.length > 0)) {
        yield { configs: batch, jobs: batch.map((c) => ({ trace: traces.get(c.trace), spec: c.lane })) };
        batch = [];
      }
    }
  }
  return { total: validation.valid, batches: batches() };
}

const sameShard = (a: Shard | null, b: Shard | null) => (a === null ? b === null : b !== null && a.index === b.index && a.count === b.count);
const shardText = (s: Shard | null) => (s ? `${s.index}/${s.count}` : '(none)');

/** Files a sweep writes; anything else in --out means the directory belongs to someone else. */
function isSweepFile(name: string): boolean {
  return (Object.values(FILES) as string[]).some((f) => name === f || name.startsWith(`${f}.tmp-`));
}

/** Refuses a directory that holds something else, or a different sweep; removes temp files of killed runs. */
function checkDirectory(out: string, o: SweepOptions, loaded: LoadedSpec, specHash: string, digests: Record<string, string>, shard: Shard | null): void {
  const entries = readdirSync(out);
  const foreign = entries.filter((e) => !isSweepFile(e));
  if (foreign.length > 0) {
    throw new ConfigError(`--out ${o.out} holds files a sweep did not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); choose a new or empty directory`);
  }
  for (const e of entries) if (e.includes('.tmp-')) rmSync(join(out, e), { force: true }); // we hold the lock: these are left over
  const journal = join(out, FILES.journal);
  const hasJournal = existsSync(journal) && statSync(journal).size > 0;
  // A directory whose journal holds no row (e.g. --engine gpu failed at once) may be reused freely.
  if (!hasJournal) return;
  if (!o.resume) throw new ConfigError(`${o.out} already holds a sweep; pass --resume to continue it, or choose another --out`);
  if (!existsSync(join(out, FILES.manifest))) throw new ConfigError(`${o.out} holds a journal but no ${FILES.manifest}: not a directory schedlab sweep wrote, or damaged; choose another --out`);
  const prev = readManifest(out);
  assertResumable(prev, o.out);
  if (prev.spec_hash !== specHash) {
    throw new ConfigError(
      `${o.out} holds a sweep of another spec (${prev.name ?? 'unnamed'}, from ${prev.spec_path ?? '?'}, spec hash ${prev.spec_hash}); ` +
        `${loaded.label} hashes to ${specHash}: resume it with the spec it started with, or choose another --out`,
    );
  }
  if (!sameShard(prev.shard, shard)) throw new ConfigError(`${o.out} holds shard ${shardText(prev.shard)}; resume it with the same --shard (got ${shardText(shard)})`);
  for (const [name, digest] of Object.entries(digests)) {
    const before = prev.trace_sha256?.[name];
    if (before !== digest) {
      throw new ConfigError(
        `trace ${name} (${loaded.spec.traces[name].path}) changed since ${o.out} was started (content SHA-256 ${before?.slice(0, 12) ?? '?'}… then, ${digest.slice(0, 12)}… now); ` +
          'results of two traces cannot share one set: restore the file or choose another --out',
      );
    }
  }
}

function expectedRows(generated: number, validation: Validation, shard: Shard | null): number {
  let n = 0;
  for (let i = 0; i < generated; i++) if (inShard(i, shard) && !validation.leftOut?.[i]) n++;
  return n;
}

export async function runSweep(specPath: string, o: SweepOptions): Promise<SweepOutcome> {
  const started = performance.now();
  const loaded = loadSpec(specPath);
  const shard = typeof o.shard === 'string' ? parseShard(o.shard) : (o.shard ?? null);
  assertOutputDir(o.out, '--out');
  const exp = new SpecExpansion(loaded);
  const digests = exp.traceDigests();
  const specHash = hashOf(loaded.spec);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const lock = lockDirectory(out, `schedlab sweep ${specPath}`);
  try {
    checkDirectory(out, o, loaded, specHash, digests, shard);
    const traces = new TraceCache();
    const validation = exp.validate((ref, prefixCache) => traces.check(ref, prefixCache));
    const columns = columnsFor(exp.params);
    const expected = expectedRows(exp.generated, validation, shard);
    const journaled = o.resume ? scanJournal(out) : new Map();
    const selection = new RowSelection(join(out, FILES.journal), exp.generated);
    const manifest: Manifest = {
      schedlab_sweep: RESULT_FORMAT,
      name: loaded.spec.name,
      spec_path: specPath,
      spec: loaded.spec,
      spec_hash: specHash,
      trace_sha256: digests,
      shard,
      generated: exp.generated,
      configs: validation.valid,
      expected_rows: expected,
      rows: 0,
      complete: false,
      skipped_invalid: validation.skipped,
      columns,
    };
    writeAtomic(join(out, FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    if (validation.skipped > 0) {
      process.stderr.write(`sweep: left out ${validation.skipped} invalid configuration(s) (invalid: skip), e.g. ${validation.skippedReasons[0]}\n`);
    }
    let reused = 0;
    let visited = -1;
    /** The shard's configurations not yet in the journal under their current id, in index order. */
    function* todo(): Generator<SweepConfig> {
      for (let i = shard ? shard.index : 0; i < exp.generated; i += shard ? shard.count : 1) {
        visited = i;
        if (validation.leftOut?.[i]) continue;
        const config = exp.config(i);
        const entry = journaled.get(i);
        if (entry && entry.id === config.id) {
          selection.set(entry);
          reused++;
        } else {
          yield config;
        }
      }
    }
    const journal = new JournalWriter(out);
    const progress = o.progress === 'none' ? { update() {}, stop() {} } : startProgress('sweep', 'configurations', { delayMs: 0, logEveryMs: 10_000, initial: journaled.size });
    const finish = (config: SweepConfig, res: JobResult, note?: string) => {
      const summary = summarizeRaw(res.raw, config.lane.profile.kvBlocks, config.lane.slo ?? DEFAULT_SLO);
      selection.set(journal.append(makeRow(config, summary, res.engine, res.fallback ?? (res.engine === 'cpu' ? note : undefined))));
      progress.update(selection.count, expected);
    };
    const stop = (signal: string, code: number) => () => {
      progress.stop();
      process.stderr.write(`\nsweep interrupted (${signal}): ${selection.count}/${expected} configurations are saved in ${join(o.out, FILES.journal)}; rerun with --resume to finish\n`);
      journal.close();
      lock.release();
      process.exit(code);
    };
    const onSigint = stop('SIGINT', 130);
    const onSigterm = stop('SIGTERM', 143);
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    let backend: BackendInfo | undefined;
    let ran = 0;
    try {
      const pending = todo();
      const first = pending.next();
      // A complete set resumed has nothing left to run: no engine is started.
      if (!first.done) {
        const rest = function* () {
          yield first.value;
          yield* pending;
        };
        const run = { todo: rest(), limit: o.maxConfigs ?? Infinity, threads: o.threads ?? defaultThreads(), traces, finish };
        const chosen = await chooseEngine(o.engine ?? 'auto');
        if (chosen.engine === 'cpu') {
          ran = await runOnCpuPool(run, chosen.note);
          backend = { engine: 'cpu', description: `cpu: ${run.threads} thread(s)`, ...(chosen.note ? { note: chosen.note } : {}) };
        } else {
          ({ ran, backend } = await runInBatches(run, o.engine ?? 'auto', o.batch ?? 4096));
        }
        run.todo.next(); // after --max-configs: take in the journaled configurations up to the next one left to run
      }
    } finally {
      progress.stop();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      journal.close();
    }
    const complete = selection.count === expected;
    const wallS = (performance.now() - started) / 1000;
    if (complete) await writeResults(out, columns, selection.rows());
    // After a stop by --max-configs, journal entries past the last configuration visited count as done.
    let rows = selection.count;
    for (const entry of journaled.values()) if (entry.index > visited && inShard(entry.index, shard) && !validation.leftOut?.[entry.index]) rows++;
    writeAtomic(join(out, FILES.manifest), JSON.stringify({ ...manifest, rows, complete, backend, wall_s: wallS }, null, 2) + '\n');
    return { out, complete, rows, ran, reused, backend, wallS };
  } finally {
    lock.release();
  }
}

interface Run {
  todo: Generator<SweepConfig>;
  limit: number;
  threads: number;
  traces: TraceCache;
  finish: (config: SweepConfig, result: JobResult, note?: string) => void;
}

/** One pool for the whole sweep, kept busy: two configurations per thread in flight, each journaled as it finishes. */
async function runOnCpuPool(run: Run, note: string | undefined): Promise<number> {
  const pool = new CpuPool(run.threads);
  const inFlight = new Set<Promise<void>>();
  let ran = 0;
  try {
    while (ran < run.limit) {
      const next = run.todo.next();
      if (next.done) break;
      const config = next.value;
      const p: Promise<void> = pool.run({ trace: run.traces.get(config.trace), spec: config.lane }).then((res) => run.finish(config, res, note));
      inFlight.add(p);
      const forget = () => inFlight.delete(p);
      p.then(forget, forget);
      ran++;
      if (inFlight.size >= run.threads * 2) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  return ran;
}

/** The GPU engine takes configurations in batches; each batch is journaled when it returns. */
async function runInBatches(run: Run, engine: EngineChoice, batchSize: number): Promise<{ ran: number; backend?: BackendInfo }> {
  let ran = 0;
  let backend: BackendInfo | undefined;
  while (ran < run.limit) {
    const batch: SweepConfig[] = [];
    const want = Math.min(batchSize, run.limit - ran);
    while (batch.length < want) {
      const next = run.todo.next();
      if (next.done) break;
      batch.push(next.value);
    }
    if (batch.length === 0) break;
    const r = await runJobs(
      batch.map((c) => ({ trace: run.traces.get(c.trace), spec: c.lane })),
      { engine, threads: run.threads },
    );
    backend = r.backend;
    batch.forEach((c, i) => run.finish(c, r.results[i], r.backend.note));
    ran += batch.length;
  }
  return { ran, backend };
}
