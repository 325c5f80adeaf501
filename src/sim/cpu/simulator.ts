// The CPU reference simulator. It defines schedlab's semantics (docs/semantics.md); the GPU
// engine must reproduce its RawMetrics bit for bit. Batch formation belongs to the lane's batching
// strategy and scheduler rules (src/policy/engine/); this file applies what they decide.
import { ConfigError } from '../../model/profile.js';
import { addToSums, decodeRun, emptySums, iterationUs } from '../../model/iteration.js';
import { emptyRaw, type RawMetrics } from '../../metrics/record.js';
import { schedulerRules, type RequestShape, type SchedulerRules } from '../../policy/engine/types.js';
import { predictOutputs } from '../../policy/predictor/index.js';
import type { ClusterView } from '../../policy/router/types.js';
import type { Trace } from '../../trace/trace.js';
import type { Lane } from '../lane.js';
import { BlockKeys, prefixUnits, type PrefixUnits } from '../prefix-units.js';
import { CpuBatchContext } from './batch-context.js';
import { Inserted, PrefixCache } from './prefix-cache.js';
import { Replica } from './replica.js';
import { Requests, Status } from './requests.js';
import { ViewSnapshot } from './view-snapshot.js';

export { Status } from './requests.js';

export interface SimOptions {
  /** Advance runs of identical decode iterations at once (exact: results do not change). */
  fastForward?: boolean;
  /** Keep one row per request (CPU only). */
  perRequest?: boolean;
  /** Check the named invariants (docs/semantics.md) after every event (slow; tests). */
  checkInvariants?: boolean;
  /** Called every few thousand arrivals with (arrived, total). */
  onProgress?: (arrived: number, total: number) => void;
}

export interface PerRequestRows {
  arrivalUs: Float64Array;
  replica: Int32Array;
  promptTokens: Uint32Array;
  outputTokens: Uint32Array;
  predictedOutputTokens: Uint32Array;
  status: Uint8Array;
  firstTokenUs: Float64Array;
  finishUs: Float64Array;
  preemptions: Int32Array;
  /** Cached prompt tokens found at the first admission (-1: never admitted); only with prefix caching on. */
  cachedTokens?: Int32Array;
}

export interface SimResult {
  raw: RawMetrics;
  perRequest?: PerRequestRows;
}

const ceilDiv = (a: number, b: number) => Math.floor((a + b - 1) / b);

export function simulate(trace: Trace, lane: Lane, options: SimOptions = {}): SimResult {
  return new Simulation(trace, lane, options).run();
}

/** The lane's cache keys over this trace; prefix caching needs a trace with prefix hashes. */
function blockKeys(trace: Trace, blockSize: number): BlockKeys {
  const units = prefixUnits(trace);
  if (!units) {
    throw new ConfigError(`prefix caching is on but trace ${trace.name} has no prefix hashes; use a trace with them (Mooncake hash_ids) or a sessions: workload (docs/traces.md)`);
  }
  return new BlockKeys(units, trace.promptTokens, blockSize);
}

const NO_UNITS = new Uint32Array(0);

/** An invariant of docs/semantics.md does not hold: the message starts with its ID. */
function violated(id: string, what: string): never {
  throw new Error(`invariant ${id} violated: ${what}`);
}

class Simulation {
  private readonly n: number;
  private readonly raw = emptyRaw();
  private readonly replicas: Replica[];
  private readonly req: Requests;
  private readonly rules: SchedulerRules;
  private readonly ctx: CpuBatchContext;
  private readonly outstanding: Int32Array;
  private readonly usedBlocksView: Int32Array;
  // Token-aware views for routers, kept up to date event by event.
  private readonly queuedPrefillTokens: Float64Array;
  private readonly remainingDecodeTokens: Float64Array;
  private readonly predictedDecodeTokens: Float64Array;
  /** Whether predictedDecodeTokens is kept (only its readers pay for it). */
  private readonly tracksPrediction: boolean;
  /** What the router reads: the live views, or a snapshot of them for a router with stale signals. */
  private readonly view: ClusterView;
  private readonly snapshot: ViewSnapshot | null;
  private readonly routerState: unknown;
  /** The trace's prefix units, for routers that read them (null otherwise or without hashes). */
  private readonly units: PrefixUnits | null;
  /** Prefix-cache invariant checks so far (the slow recount runs on every 16th). */
  private cacheChecks = 0;

  private readonly blockSize: number;
  private readonly kvBlocks: number;
  private readonly sloTtftUs: number;
  private readonly sloTpotUs: number;

  constructor(
    private readonly trace: Trace,
    private readonly lane: Lane,
    private readonly options: SimOptions,
  ) {
    this.n = trace.arrivalUs.length;
    const scheduler = lane.scheduler;
    const profile = lane.profile;
    this.blockSize = profile.blockSize;
    this.kvBlocks = profile.kvBlocks;
    const predicted = predictOutputs(trace, lane.predictor, lane.predictorParams, lane.seed);
    this.req = new Requests(trace, predicted, scheduler.requestWords ?? 0);
    this.rules = schedulerRules(scheduler, lane.schedulerParams, {
      blockSize: profile.blockSize,
      kvBlocks: profile.kvBlocks,
      maxModelLen: profile.maxModelLen,
      watermarkBlocks: lane.watermarkBlocks,
    });
    const replicaWords = scheduler.replicaWords ?? 0;
    const words = new Uint32Array(lane.replicas * replicaWords);
    const keys = lane.prefixCache ? blockKeys(trace, profile.blockSize) : null;
    this.replicas = Array.from({ length: lane.replicas }, (_, r) => {
      const cache = keys ? new PrefixCache(keys) : null;
      const rep = new Replica(profile.blockSize, profile.kvBlocks, words.subarray(r * replicaWords, (r + 1) * replicaWords), cache);
      this.rules.initReplica?.(rep.words);
      return rep;
    });
    this.outstanding = new Int32Array(lane.replicas);
    this.usedBlocksView = new Int32Array(lane.replicas);
    this.queuedPrefillTokens = new Float64Array(lane.replicas);
    this.remainingDecodeTokens = new Float64Array(lane.replicas);
    this.predictedDecodeTokens = new Float64Array(lane.replicas);
    this.tracksPrediction = lane.router.usesPrediction === true;
    this.view = {
      replicas: lane.replicas,
      outstanding: this.outstanding,
      usedBlocks: this.usedBlocksView,
      queuedPrefillTokens: this.queuedPrefillTokens,
      remainingDecodeTokens: this.remainingDecodeTokens,
      predictedDecodeTokens: this.predictedDecodeTokens,
      kvBlocks: profile.kvBlocks,
      blockSize: profile.blockSize,
      routed: 0,
    };
    const router = lane.router;
    const refreshUs = router.refreshUs?.(lane.routerParams) ?? 0;
    this.snapshot = refreshUs > 0 ? new ViewSnapshot(refreshUs, this.view) : null;
    this.units = router.usesPrefixes ? prefixUnits(trace) : null;
    this.routerState = router.init?.(
      { replicas: lane.replicas, kvBlocks: profile.kvBlocks, blockSize: profile.blockSize, prefixUnitTokens: this.units?.unitTokens ?? 0 },
      lane.routerParams,
    );
    this.ctx = new CpuBatchContext(
      { maxNumSeqs: profile.maxNumSeqs, maxBatchedTokens: profile.maxBatchedTokens, blockSize: profile.blockSize, kvBlocks: profile.kvBlocks, watermarkBlocks: lane.watermarkBlocks },
      this.req,
      this.rules,
      (j, nowUs) => this.req.setKey(j, scheduler.key(this.req, j, nowUs, lane.schedulerParams)),
      this.queuedPrefillTokens,
    );
    this.sloTtftUs = Math.round(lane.slo.ttftMs * 1000);
    this.sloTpotUs = Math.round(lane.slo.tpotMs * 1000);
    this.raw.requests = this.n;
  }

  run(): SimResult {
    const { arrivalUs } = this.trace;
    const replicas = this.replicas;
    let next = 0;
    while (true) {
      // Event order at one instant: iteration ends (by replica), arrivals (by request), then idle replicas start.
      let now = next < this.n ? arrivalUs[next] : Infinity;
      for (const rep of replicas) if (rep.busy && rep.endUs < now) now = rep.endUs;
      if (now === Infinity) break;
      for (let r = 0; r < replicas.length; r++) {
        if (replicas[r].busy && replicas[r].endUs === now) this.finishIteration(r, now);
      }
      const arrivals = next < this.n && arrivalUs[next] === now;
      if (arrivals) this.settleFoldViews();
      while (next < this.n && arrivalUs[next] === now) {
        this.arrive(next);
        next++;
        if (this.options.onProgress && (next & 4095) === 0) this.options.onProgress(next, this.n);
      }
      const nextArrivalUs = next < this.n ? arrivalUs[next] : Infinity;
      if (arrivals) {
        for (const rep of replicas) if (rep.busy && rep.fold.open) this.extendFold(rep, nextArrivalUs);
      }
      for (let r = 0; r < replicas.length; r++) {
        const rep = replicas[r];
        if (!rep.busy && (rep.waiting.length > 0 || rep.running.length > 0)) this.startIteration(r, now, nextArrivalUs);
      }
      if (this.options.checkInvariants) this.checkInvariants();
    }
    this.options.onProgress?.(this.n, this.n);
    for (const rep of replicas) this.raw.prefixEvictedBlocks += rep.cache?.evicted ?? 0;
    return { raw: this.raw, perRequest: this.options.perRequest ? this.rows() : undefined };
  }

  // ---- arrivals and routing -------------------------------------------------------------

  private arrive(i: number): void {
    const req = this.req;
    const prompt = req.promptTokens[i];
    const output = req.outputTokens[i];
    const profile = this.lane.profile;
    // A request is rejected at arrival if it can never run: too long for the model, or its largest
    // context (prompt + output - 1: the last token's KV is never stored) cannot fit in the KV cache
    // next to the admission watermark even on an empty replica.
    if (prompt + output > profile.maxModelLen) {
      req.status[i] = Status.RejectedMaxModelLen;
      this.raw.rejectedMaxModelLen++;
      return;
    }
    if (ceilDiv(prompt + output - 1, this.blockSize) > this.kvBlocks - this.lane.watermarkBlocks) {
      req.status[i] = Status.RejectedKvCapacity;
      this.raw.rejectedKvCapacity++;
      return;
    }
    for (let r = 0; r < this.replicas.length; r++) this.usedBlocksView[r] = this.replicas[r].usedBlocks;
    const view = this.snapshot ? this.snapshot.at(this.trace.arrivalUs[i], this.view) : this.view;
    const r = this.lane.router.route(view, this.shape(i), this.lane.seed, this.lane.routerParams, this.routerState);
    this.view.routed++;
    this.outstanding[r]++;
    this.queuedPrefillTokens[r] += prompt;
    this.remainingDecodeTokens[r] += output;
    if (this.tracksPrediction) this.predictedDecodeTokens[r] += req.predicted[i];
    req.replicaOf[i] = r;
    this.replicas[r].fold.open = false; // its scheduler must see the new request at its next iteration
    req.status[i] = Status.Waiting;
    req.prefillTarget[i] = prompt;
    this.rules.initRequest?.(req, i);
    req.setKey(i, this.lane.scheduler.key(req, i, this.trace.arrivalUs[i], this.lane.schedulerParams));
    req.insertSorted(this.replicas[r].waiting, i);
  }

  /** What the router sees of request i. */
  private shape(i: number): RequestShape {
    const req = this.req;
    const units = this.units;
    return {
      index: i,
      promptTokens: req.promptTokens[i],
      outputTokens: req.outputTokens[i],
      predictedOutputTokens: req.predicted[i],
      prefixUnits: units ? units.chain.subarray(units.offsets[i], units.offsets[i + 1]) : NO_UNITS,
      prefixUnitTokens: units?.unitTokens ?? 0,
    };
  }

  // ---- iterations -------------------------------------------------------------------------

  private startIteration(r: number, now: number, nextArrivalUs: number): void {
    const rep = this.replicas[r];
    const ctx = this.ctx;
    ctx.begin(rep, r, now);
    const pureDecode = this.lane.batching.formBatch(ctx) && ctx.preempted.length === 0;
    const batch = ctx.batch;
    if (batch.requests.length === 0) throw new Error(`internal: replica ${r} has work but scheduled nothing at ${now} µs`);
    this.recordDecisions(now);

    const sums = emptySums();
    for (let e = 0; e < batch.requests.length; e++) {
      const j = batch.requests[e];
      addToSums(sums, this.req.ctx[j], batch.tokens[e], this.req.ctx[j] < this.req.prefillTarget[j]);
    }
    const model = this.lane.profile.iterationNs;
    const firstUs = iterationUs(model, sums);
    this.recordIteration(rep, firstUs, 0);
    rep.endUs = now + firstUs;
    batch.firstEndUs = rep.endUs;

    const fold = rep.fold;
    fold.open = false;
    fold.settled = 0;
    rep.batch = batch;
    rep.busy = true;
    // Proactive preemption may start once the free blocks shrink, so it folds only with nothing waiting.
    // So may a cache-dependent admission order: evictions during the run can reorder the waiting requests.
    const foldable = (this.rules.foldWithWaiting && this.rules.displaces === null && this.rules.admissionOrder === null) || rep.waiting.length === 0;
    if (pureDecode && foldable && this.options.fastForward !== false) {
      // Iterations 2..k repeat iteration 1 with every context one token longer. They start before the
      // next arrival routed here (the only outside event that could change this replica's schedule;
      // extendFold adds them arrival by arrival), complete nobody and change no key before the k-th,
      // and need no more blocks than are free, so no preemption happens.
      fold.run = decodeRun(model, sums.decodes, sums.decodeContext);
      fold.maxK = Infinity;
      fold.residues.fill(0);
      const untilRekey = this.rules.tokensUntilRekey;
      for (const j of batch.requests) {
        fold.maxK = Math.min(fold.maxK, this.req.outputTokens[j] - this.req.generated[j]);
        if (untilRekey) fold.maxK = Math.min(fold.maxK, untilRekey(this.req, j));
        fold.residues[this.req.ctx[j] % this.blockSize]++;
      }
      this.extendFold(rep, nextArrivalUs);
    }
  }

  /** Counts what the batch formation did: first admissions (queueing delay), prefix-cache lookups, preemptions. */
  private recordDecisions(now: number): void {
    const req = this.req;
    const raw = this.raw;
    for (const j of this.ctx.admitted) {
      if (req.admittedUs[j] < 0) {
        req.admittedUs[j] = now;
        raw.hist.queue.add(now - req.arrivalUs[j]);
      }
      if (this.lane.prefixCache) {
        // Admitted in this formation: the blocks it holds as cache entries are those it found.
        const hit = req.cachedBlocks[j] * this.blockSize;
        raw.prefixLookups++;
        raw.prefixLookupTokens += req.prefillTarget[j];
        raw.prefixHitTokens += hit;
        if (hit > 0) raw.prefixHits++;
      }
    }
    raw.admittedOutOfOrder += this.ctx.outOfOrder;
    for (const j of this.ctx.preempted) {
      if (req.preemptions[j] === 0) raw.preemptedRequests++;
      req.preemptions[j]++;
      raw.preemptions++;
    }
  }

  /** Adds the fold's iterations that start before nextArrivalUs; leaves it open if it stopped only there. */
  private extendFold(rep: Replica, nextArrivalUs: number): void {
    const { batch, fold } = rep;
    const n = batch.requests.length;
    let free = this.kvBlocks - rep.usedBlocks;
    let k = batch.iterations;
    fold.open = false;
    // Iteration k lasts decodeRunUs(run, k) = ceil(ps / 10^6), ps = firstPs + stepPs * k: ps is kept
    // as (q, r) with r in [0, 10^6), advanced exactly by stepPs without a division per iteration.
    const { firstPs, stepPs } = fold.run;
    let ps = firstPs + stepPs * k;
    let q = Math.floor(ps / 1e6);
    let r = ps - q * 1e6;
    if (r < 0) (q--, (r += 1e6));
    else if (r >= 1e6) (q++, (r -= 1e6));
    const stepQ = Math.floor(stepPs / 1e6);
    const stepR = stepPs - stepQ * 1e6;
    // Samples go to the histograms once per run of equal values (the order of samples is not kept).
    const { kv, itl } = this.raw.hist;
    let itlValue = -1;
    let itlTimes = 0;
    let kvTimes = 0;
    let iterations = 0;
    let busyUs = 0;
    while (k < fold.maxK) {
      // An iteration starting at the arrival instant starts after it (event order), so it may differ.
      if (rep.endUs >= nextArrivalUs) {
        fold.open = true;
        break;
      }
      const iterUs = r > 0 ? q + 1 : q;
      // Requests whose context before this iteration is a multiple of the block size need a block.
      const newBlocks = fold.residues[(this.blockSize - (k % this.blockSize)) % this.blockSize];
      if (newBlocks > free) break;
      free -= newBlocks;
      if (newBlocks > 0) {
        if (kvTimes > 0) kv.add(rep.usedBlocks, kvTimes);
        kvTimes = 0;
        rep.take(newBlocks);
      }
      kvTimes++;
      if (iterUs !== itlValue) {
        if (itlTimes > 0) itl.add(itlValue, itlTimes);
        itlValue = iterUs;
        itlTimes = 0;
      }
      itlTimes += n;
      iterations++;
      busyUs += iterUs;
      rep.endUs += iterUs;
      k++;
      q += stepQ;
      r += stepR;
      if (r >= 1e6) (q++, (r -= 1e6));
    }
    if (kvTimes > 0) kv.add(rep.usedBlocks, kvTimes);
    if (itlTimes > 0) itl.add(itlValue, itlTimes);
    this.raw.iterations += iterations;
    this.raw.busyUs += busyUs;
    batch.iterations = k;
  }

  /**
   * Routers see the decode views as if every iteration ended one by one: take the folded iterations
   * that have ended (all but the one in progress) off them before routing.
   */
  private settleFoldViews(): void {
    for (let r = 0; r < this.replicas.length; r++) {
      const rep = this.replicas[r];
      if (!rep.busy || rep.batch.iterations <= 1) continue;
      const ended = rep.batch.iterations - 1;
      const settled = rep.fold.settled;
      if (ended === settled) continue;
      this.remainingDecodeTokens[r] -= (ended - settled) * rep.batch.requests.length;
      if (this.tracksPrediction) {
        for (const j of rep.batch.requests) {
          this.predictedDecodeTokens[r] -= this.predictedLeft(j, settled) - this.predictedLeft(j, ended);
        }
      }
      rep.fold.settled = ended;
    }
  }

  /** max(predicted - generated - extra, 0): request j's part of predictedDecodeTokens after `extra` more tokens. */
  private predictedLeft(j: number, extra: number): number {
    return Math.max(0, this.req.predicted[j] - this.req.generated[j] - extra);
  }

  private recordIteration(rep: Replica, durationUs: number, newBlocks: number): void {
    // A folded iteration's decode blocks may evict cached blocks: no admission, lookup or release can
    // happen on this replica before the iteration starts, so evicting them now is evicting them then.
    rep.take(newBlocks);
    this.raw.hist.kv.add(rep.usedBlocks);
    this.raw.iterations++;
    this.raw.busyUs += durationUs;
  }

  private finishIteration(r: number, now: number): void {
    const rep = this.replicas[r];
    const req = this.req;
    const batch = rep.batch;
    const k = batch.iterations;
    const settled = rep.fold.settled;
    let anyDone = false;
    let rekeyed: number[] | null = null;
    for (let e = 0; e < batch.requests.length; e++) {
      const j = batch.requests[e];
      const steps = batch.tokens[e] * k; // k > 1 only for pure-decode batches (1 token each)
      if (req.ctx[j] < req.prefillTarget[j]) {
        this.queuedPrefillTokens[r] -= steps;
        req.ctx[j] += steps;
        if (rep.cache) this.cacheComputedBlocks(rep, j);
      } else {
        req.ctx[j] += steps;
      }
      if (k > 1) req.blocks[j] = ceilDiv(req.ctx[j], this.blockSize);
      if (!batch.producesToken[e]) continue;
      if (req.firstTokenUs[j] < 0) {
        req.firstTokenUs[j] = batch.firstEndUs;
        this.raw.hist.ttft.add(batch.firstEndUs - req.arrivalUs[j]);
      } else {
        this.raw.hist.itl.add(batch.firstEndUs - req.lastTokenUs[j]);
      }
      if (this.tracksPrediction) this.predictedDecodeTokens[r] -= this.predictedLeft(j, settled) - this.predictedLeft(j, k);
      req.generated[j] += k;
      this.remainingDecodeTokens[r] -= k - settled;
      req.lastTokenUs[j] = now;
      if (req.generated[j] === req.outputTokens[j]) {
        this.complete(rep, r, j, now);
        anyDone = true;
      } else if (this.rules.rekeyAfterTokens?.(req, j)) {
        (rekeyed ??= []).push(j);
      }
    }
    if (anyDone) rep.running = rep.running.filter((j) => req.status[j] === Status.Running);
    if (rekeyed) this.rekeyRunning(rep, rekeyed, now);
    if (k > 1) this.rules.onFoldedDecodes?.(rep.words, k - 1);
    rep.busy = false;
    if (rep.running.length === 0 && rep.waiting.length === 0) this.rules.onIdle?.(rep.words);
  }

  /**
   * Prompt blocks request j has computed by the end of this iteration join the cache, in order. One
   * equal to a cached block (computed meanwhile by another request) is not kept twice: j shares the
   * cached one and its own copy is freed, as SGLang's radix cache does when it inserts a request.
   */
  private cacheComputedBlocks(rep: Replica, j: number): void {
    const req = this.req;
    const cache = rep.cache!;
    const full = Math.min(cache.keys.cacheable(j), Math.floor(req.ctx[j] / this.blockSize));
    for (let i = req.cachedBlocks[j]; i < full; i++) {
      const inserted = cache.insert(j, i);
      if (inserted === Inserted.SharedInUse) rep.usedBlocks--;
    }
    if (full > req.cachedBlocks[j]) req.cachedBlocks[j] = full;
  }

  /** Running requests whose key changed (e.g. an MLFQ demotion) move to their new place. */
  private rekeyRunning(rep: Replica, rekeyed: number[], now: number): void {
    for (const j of rekeyed) {
      this.req.setKey(j, this.lane.scheduler.key(this.req, j, now, this.lane.schedulerParams));
      if (this.rules.runningOrder === 'admission') continue;
      rep.running.splice(rep.running.indexOf(j), 1);
      this.req.insertSorted(rep.running, j);
    }
  }

  private complete(rep: Replica, r: number, j: number, now: number): void {
    const raw = this.raw;
    const req = this.req;
    req.status[j] = Status.Done;
    req.finishUs[j] = now;
    rep.release(j, req.blocks[j], req.cachedBlocks[j]);
    req.blocks[j] = 0;
    req.cachedBlocks[j] = 0;
    this.outstanding[r]--;
    // An over-predicted request leaves with predicted tokens it never generated.
    if (this.tracksPrediction) this.predictedDecodeTokens[r] -= this.predictedLeft(j, 0);
    const output = req.outputTokens[j];
    raw.completed++;
    raw.outputTokens += output;
    const arrival = req.arrivalUs[j];
    const ttft = req.firstTokenUs[j] - arrival;
    raw.hist.e2e.add(now - arrival);
    let tpotOk = true;
    if (output > 1) {
      const tpot = Math.floor((now - req.firstTokenUs[j]) / (output - 1));
      raw.hist.tpot.add(tpot);
      tpotOk = tpot <= this.sloTpotUs;
    }
    const ttftOk = ttft <= this.sloTtftUs;
    if (ttftOk) raw.ttftMet++;
    if (tpotOk) raw.tpotMet++;
    if (ttftOk && tpotOk) raw.sloMet++;
    if (now > raw.makespanUs) raw.makespanUs = now;
  }

  // ---- invariants (docs/semantics.md, "Invariants") ------------------------------------------

  private checkInvariants(): void {
    const req = this.req;
    this.replicas.forEach((rep, r) => {
      // INV-1 KV conservation: blocks in use are the running requests' blocks (a cached block they
      // share counts once), within capacity.
      let sum = 0;
      for (const j of rep.running) sum += req.blocks[j] - req.cachedBlocks[j];
      if (rep.cache) sum += rep.cache.held;
      for (const j of rep.waiting) if (req.blocks[j] !== 0 || req.cachedBlocks[j] !== 0) violated('INV-1', `waiting request ${j} on replica ${r} holds blocks`);
      if (rep.usedBlocks < 0 || rep.usedBlocks > this.kvBlocks) violated('INV-1', `replica ${r} uses ${rep.usedBlocks} of ${this.kvBlocks} blocks`);
      if (rep.cache) this.checkCache(rep, r);
      // During a fast-forwarded run the replica holds the blocks of all its iterations up front.
      if ((!rep.busy || rep.batch.iterations === 1) && sum !== rep.usedBlocks) {
        violated('INV-1', `replica ${r} block sum ${sum} != used ${rep.usedBlocks}`);
      }
      // INV-2 limits: running sequences within maxNumSeqs.
      if (rep.running.length > this.lane.profile.maxNumSeqs) violated('INV-2', `replica ${r} runs ${rep.running.length} sequences`);
      // INV-8 queue order: waiting by (key, index); running too unless it keeps admission order.
      const sorted = (list: number[]) => list.every((j, p) => p === 0 || req.before(list[p - 1], j));
      if (!sorted(rep.waiting)) violated('INV-8', `replica ${r} waiting queue out of (key, index) order`);
      if (this.rules.runningOrder === 'key' && !sorted(rep.running)) violated('INV-8', `replica ${r} running list out of (key, index) order`);
      // INV-3 router views equal a recount (they change with ctx and generated, applied at iteration ends).
      let prefill = 0;
      let decode = 0;
      let predicted = 0;
      for (const j of [...rep.waiting, ...rep.running]) {
        prefill += Math.max(0, req.prefillTarget[j] - req.ctx[j]);
        decode += req.outputTokens[j] - req.generated[j];
        predicted += this.predictedLeft(j, 0);
      }
      if (rep.busy) {
        decode -= rep.fold.settled * rep.batch.requests.length;
        for (const j of rep.batch.requests) predicted -= this.predictedLeft(j, 0) - this.predictedLeft(j, rep.fold.settled);
      }
      if (!this.tracksPrediction) predicted = 0;
      if (prefill !== this.queuedPrefillTokens[r] || decode !== this.remainingDecodeTokens[r] || predicted !== this.predictedDecodeTokens[r]) {
        violated(
          'INV-3',
          `replica ${r} token views ${this.queuedPrefillTokens[r]}/${this.remainingDecodeTokens[r]}/${this.predictedDecodeTokens[r]} != ${prefill}/${decode}/${predicted}`,
        );
      }
    });
  }

  /**
   * INV-1 for the prefix cache: every entry is a block, held ones in use and the others free; each
   * entry's reference count is the number of running requests holding it among their leading
   * blocks. The counts are checked after every event; the recount from the requests (slow with long
   * prompts) after every 16th, since a wrong count persists until it is found.
   */
  private checkCache(rep: Replica, r: number): void {
    const cache = rep.cache!;
    const req = this.req;
    if (cache.held + cache.evictable !== cache.size) violated('INV-1', `replica ${r} cache: ${cache.held} held + ${cache.evictable} evictable != ${cache.size} entries`);
    if (rep.usedBlocks + cache.evictable > this.kvBlocks) violated('INV-1', `replica ${r}: ${rep.usedBlocks} blocks in use + ${cache.evictable} cached > ${this.kvBlocks}`);
    if (this.cacheChecks++ % 16 !== 0) return;
    const refs = new Map<number, number>();
    for (const j of rep.running) {
      for (let i = 0; i < req.cachedBlocks[j]; i++) {
        const key = cache.keys.key(j, i);
        refs.set(key, (refs.get(key) ?? 0) + 1);
      }
    }
    let held = 0;
    for (const [key, count] of cache.entriesForCheck()) {
      if ((refs.get(key) ?? 0) !== count) violated('INV-1', `replica ${r} cache entry ${key} has ${count} references, ${refs.get(key) ?? 0} running requests hold it`);
      if (count > 0) held++;
    }
    if (held !== refs.size || held !== cache.held) violated('INV-1', `replica ${r}: running requests hold ${refs.size} cached blocks, ${held} entries are held (counted ${cache.held})`);
    // Prefix closure (what lets a lookup search instead of walk), checked on the waiting head.
    const h = rep.waiting[0];
    if (h !== undefined) {
      const limit = cache.keys.cacheable(h);
      const walked = cache.walk(h, limit);
      const found = cache.hitBlocks(h, limit);
      if (walked.blocks !== found || walked.held !== cache.heldAmong(h, found)) {
        violated('INV-1', `replica ${r} cache is not prefix-closed along request ${h}'s prompt (walk ${walked.blocks}/${walked.held}, search ${found}/${cache.heldAmong(h, found)})`);
      }
    }
  }

  private rows(): PerRequestRows {
    const req = this.req;
    return {
      arrivalUs: req.arrivalUs,
      replica: req.replicaOf,
      promptTokens: req.promptTokens,
      outputTokens: req.outputTokens,
      predictedOutputTokens: req.predicted,
      status: req.status,
      firstTokenUs: req.firstTokenUs,
      finishUs: req.finishUs,
      preemptions: req.preemptions,
      cachedTokens: this.lane.prefixCache ? req.firstHitTokens : undefined,
    };
  }
}
