// The CPU reference simulator. It defines schedlab's semantics (docs/semantics.md); the GPU
// engine must reproduce its RawMetrics bit for bit.
import { addToSums, decodeRun, decodeRunUs, emptySums, iterationUs, type DecodeRun } from '../../model/iteration.js';
import { emptyRaw, type RawMetrics } from '../../metrics/record.js';
import type { ClusterView } from '../../policy/router/types.js';
import type { Trace } from '../../trace/trace.js';
import type { Lane } from '../lane.js';

export interface SimOptions {
  /** Advance runs of identical decode iterations at once (exact: results do not change). */
  fastForward?: boolean;
  /** Keep one row per request (CPU only). */
  perRequest?: boolean;
  /** Check KV accounting after every event (slow; tests). */
  checkInvariants?: boolean;
  /** Called every few thousand arrivals with (arrived, total). */
  onProgress?: (arrived: number, total: number) => void;
}

export const Status = {
  Pending: 0,
  Waiting: 1,
  Running: 2,
  Done: 3,
  RejectedMaxModelLen: 4,
  RejectedKvCapacity: 5,
} as const;

export interface PerRequestRows {
  arrivalUs: Float64Array;
  replica: Int32Array;
  promptTokens: Uint32Array;
  outputTokens: Uint32Array;
  status: Uint8Array;
  firstTokenUs: Float64Array;
  finishUs: Float64Array;
  preemptions: Int32Array;
}

export interface SimResult {
  raw: RawMetrics;
  perRequest?: PerRequestRows;
}

/** What one iteration (or one fast-forwarded run of identical decode iterations) does. */
interface Batch {
  requests: number[];
  tokens: number[]; // tokens processed per request in one iteration
  producesToken: boolean[];
  /** Identical iterations folded into this one (1 = no fast-forward). */
  iterations: number;
  firstEndUs: number;
}

/**
 * A fast-forwarded run of decode iterations that later arrivals may lengthen. It holds the
 * iterations that start before the lane's next arrival; when that arrival goes to another replica,
 * nothing this replica's scheduler sees has changed, so the run goes on to the arrival after it.
 */
interface Fold {
  /** Still lengthened at arrivals (false once an arrival is routed here, a completion or a block shortage ends it). */
  open: boolean;
  /** Iteration k of the run (k = 0 the first) lasts decodeRunUs(run, k). */
  run: DecodeRun;
  /** Iterations after which the first request completes. */
  maxK: number;
  /** Requests by context length mod block size, at the first iteration. */
  residues: Int32Array;
  /** Iterations already taken off remainingDecodeTokens (ended before a routing instant). */
  settled: number;
}

class Replica {
  waiting: number[] = []; // sorted by (priority key, request index)
  running: number[] = []; // same order; the last one is the preemption victim
  usedBlocks = 0;
  busy = false;
  endUs = 0;
  batch: Batch = { requests: [], tokens: [], producesToken: [], iterations: 1, firstEndUs: 0 };
  fold: Fold;
  constructor(blockSize: number) {
    this.fold = { open: false, run: { firstPs: 0, stepPs: 0 }, maxK: 0, residues: new Int32Array(blockSize), settled: 0 };
  }
}

const ceilDiv = (a: number, b: number) => Math.floor((a + b - 1) / b);

export function simulate(trace: Trace, lane: Lane, options: SimOptions = {}): SimResult {
  return new Simulation(trace, lane, options).run();
}

class Simulation {
  private readonly n: number;
  private readonly raw = emptyRaw();
  private readonly replicas: Replica[];
  private readonly outstanding: Int32Array;
  private readonly usedBlocksView: Int32Array;
  // Token-aware views for routers, kept up to date event by event.
  private readonly queuedPrefillTokens: Float64Array;
  private readonly remainingDecodeTokens: Float64Array;
  private routed = 0;

  // Per-request state, indexed by trace position.
  private readonly key: Uint32Array;
  private readonly status: Uint8Array;
  private readonly replicaOf: Int32Array;
  private readonly ctx: Int32Array; // tokens whose KV is stored
  private readonly generated: Int32Array;
  private readonly prefillTarget: Int32Array; // prompt + generated at (re)admission
  private readonly blocks: Int32Array;
  private readonly firstTokenUs: Float64Array;
  private readonly lastTokenUs: Float64Array;
  private readonly admittedUs: Float64Array;
  private readonly finishUs: Float64Array;
  private readonly preemptions: Int32Array;

  private readonly blockSize: number;
  private readonly kvBlocks: number;
  private readonly sloTtftUs: number;
  private readonly sloTpotUs: number;

  constructor(
    private readonly trace: Trace,
    private readonly lane: Lane,
    private readonly options: SimOptions,
  ) {
    const n = (this.n = trace.arrivalUs.length);
    this.replicas = Array.from({ length: lane.replicas }, () => new Replica(lane.profile.blockSize));
    this.outstanding = new Int32Array(lane.replicas);
    this.usedBlocksView = new Int32Array(lane.replicas);
    this.queuedPrefillTokens = new Float64Array(lane.replicas);
    this.remainingDecodeTokens = new Float64Array(lane.replicas);
    this.key = new Uint32Array(n);
    this.status = new Uint8Array(n);
    this.replicaOf = new Int32Array(n).fill(-1);
    this.ctx = new Int32Array(n);
    this.generated = new Int32Array(n);
    this.prefillTarget = new Int32Array(n);
    this.blocks = new Int32Array(n);
    this.firstTokenUs = new Float64Array(n).fill(-1);
    this.lastTokenUs = new Float64Array(n).fill(-1);
    this.admittedUs = new Float64Array(n).fill(-1);
    this.finishUs = new Float64Array(n).fill(-1);
    this.preemptions = new Int32Array(n);
    this.blockSize = lane.profile.blockSize;
    this.kvBlocks = lane.profile.kvBlocks;
    this.sloTtftUs = Math.round(lane.slo.ttftMs * 1000);
    this.sloTpotUs = Math.round(lane.slo.tpotMs * 1000);
    for (let i = 0; i < n; i++) {
      this.key[i] = lane.scheduler.priorityKey(
        { index: i, promptTokens: trace.promptTokens[i], outputTokens: trace.outputTokens[i] },
        lane.schedulerParams,
      );
    }
    this.raw.requests = n;
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
    return { raw: this.raw, perRequest: this.options.perRequest ? this.rows() : undefined };
  }

  // ---- arrivals and routing -------------------------------------------------------------

  private arrive(i: number): void {
    const prompt = this.trace.promptTokens[i];
    const output = this.trace.outputTokens[i];
    const profile = this.lane.profile;
    // A request is rejected at arrival if it can never run: too long for the model, or its largest
    // context (prompt + output - 1: the last token's KV is never stored) cannot fit in the KV cache
    // next to the admission watermark even on an empty replica.
    if (prompt + output > profile.maxModelLen) {
      this.status[i] = Status.RejectedMaxModelLen;
      this.raw.rejectedMaxModelLen++;
      return;
    }
    if (ceilDiv(prompt + output - 1, this.blockSize) > this.kvBlocks - this.lane.watermarkBlocks) {
      this.status[i] = Status.RejectedKvCapacity;
      this.raw.rejectedKvCapacity++;
      return;
    }
    for (let r = 0; r < this.replicas.length; r++) this.usedBlocksView[r] = this.replicas[r].usedBlocks;
    const view: ClusterView = {
      replicas: this.replicas.length,
      outstanding: this.outstanding,
      usedBlocks: this.usedBlocksView,
      queuedPrefillTokens: this.queuedPrefillTokens,
      remainingDecodeTokens: this.remainingDecodeTokens,
      routed: this.routed,
    };
    const r = this.lane.router.route(view, { index: i, promptTokens: prompt, outputTokens: output }, this.lane.seed, this.lane.routerParams);
    this.routed++;
    this.outstanding[r]++;
    this.queuedPrefillTokens[r] += prompt;
    this.remainingDecodeTokens[r] += output;
    this.replicaOf[i] = r;
    this.replicas[r].fold.open = false; // its scheduler must see the new request at its next iteration
    this.status[i] = Status.Waiting;
    this.prefillTarget[i] = prompt;
    this.insertSorted(this.replicas[r].waiting, i);
  }

  // ---- iterations -------------------------------------------------------------------------

  private startIteration(r: number, now: number, nextArrivalUs: number): void {
    const rep = this.replicas[r];
    const batch: Batch = { requests: [], tokens: [], producesToken: [], iterations: 1, firstEndUs: 0 };
    const pureDecode =
      this.lane.scheduler.batching === 'chunked' ? this.buildChunked(rep, batch, now) : this.buildPrefillFirst(rep, batch, now);
    if (batch.requests.length === 0) throw new Error(`internal: replica ${r} has work but scheduled nothing at ${now} µs`);

    const sums = emptySums();
    for (let e = 0; e < batch.requests.length; e++) {
      const j = batch.requests[e];
      addToSums(sums, this.ctx[j], batch.tokens[e], this.ctx[j] < this.prefillTarget[j]);
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
    if (pureDecode && this.options.fastForward !== false) {
      // Iterations 2..k repeat iteration 1 with every context one token longer. They start before the
      // next arrival routed here (the only outside event that could change this replica's schedule;
      // extendFold adds them arrival by arrival), complete nobody before the k-th, and need no more
      // blocks than are free, so no preemption happens.
      fold.run = decodeRun(model, sums.decodes, sums.decodeContext);
      fold.maxK = Infinity;
      fold.residues.fill(0);
      for (const j of batch.requests) {
        fold.maxK = Math.min(fold.maxK, this.trace.outputTokens[j] - this.generated[j]);
        fold.residues[this.ctx[j] % this.blockSize]++;
      }
      this.extendFold(rep, nextArrivalUs);
    }
  }

  /** Adds the fold's iterations that start before nextArrivalUs; leaves it open if it stopped only there. */
  private extendFold(rep: Replica, nextArrivalUs: number): void {
    const { batch, fold } = rep;
    const n = batch.requests.length;
    let free = this.kvBlocks - rep.usedBlocks;
    let k = batch.iterations;
    fold.open = false;
    while (k < fold.maxK) {
      // An iteration starting at the arrival instant starts after it (event order), so it may differ.
      if (rep.endUs >= nextArrivalUs) {
        fold.open = true;
        break;
      }
      const iterUs = decodeRunUs(fold.run, k);
      // Requests whose context before this iteration is a multiple of the block size need a block.
      const newBlocks = fold.residues[(this.blockSize - (k % this.blockSize)) % this.blockSize];
      if (newBlocks > free) break;
      free -= newBlocks;
      this.recordIteration(rep, iterUs, newBlocks);
      this.raw.hist.itl.add(iterUs, n);
      rep.endUs += iterUs;
      k++;
    }
    batch.iterations = k;
  }

  /**
   * Routers see remainingDecodeTokens as if every iteration ended one by one: take the folded
   * iterations that have ended (all but the one in progress) off it before routing.
   */
  private settleFoldViews(): void {
    for (let r = 0; r < this.replicas.length; r++) {
      const rep = this.replicas[r];
      if (!rep.busy || rep.batch.iterations <= 1) continue;
      const ended = rep.batch.iterations - 1;
      this.remainingDecodeTokens[r] -= (ended - rep.fold.settled) * rep.batch.requests.length;
      rep.fold.settled = ended;
    }
  }

  private recordIteration(rep: Replica, durationUs: number, newBlocks: number): void {
    rep.usedBlocks += newBlocks;
    this.raw.hist.kv.add(rep.usedBlocks);
    this.raw.iterations++;
    this.raw.busyUs += durationUs;
  }

  /** vLLM v0: whole prompts in order while they fit; otherwise one decode step for every running request. */
  private buildPrefillFirst(rep: Replica, batch: Batch, now: number): boolean {
    const profile = this.lane.profile;
    let tokens = 0;
    while (rep.waiting.length > 0) {
      const j = rep.waiting[0];
      const need = this.prefillTarget[j];
      const needBlocks = ceilDiv(need, this.blockSize);
      if (rep.running.length >= profile.maxNumSeqs) break;
      if (tokens + need > profile.maxBatchedTokens) break;
      if (this.kvBlocks - rep.usedBlocks - needBlocks < this.lane.watermarkBlocks) break;
      rep.waiting.shift();
      this.admit(rep, j, needBlocks, now);
      this.addToBatch(batch, j, need, true);
      tokens += need;
    }
    if (batch.requests.length > 0) return false;
    return this.scheduleRunning(rep, batch, Infinity).preempted === false;
  }

  /** vLLM v1 / Sarathi: running requests first within the token budget, then new prompt chunks. */
  private buildChunked(rep: Replica, batch: Batch, now: number): boolean {
    const profile = this.lane.profile;
    const { preempted, budgetLeft, allDecodes } = this.scheduleRunning(rep, batch, profile.maxBatchedTokens);
    if (preempted) return false;
    let budget = budgetLeft;
    let admitted = false;
    while (rep.waiting.length > 0 && budget > 0 && rep.running.length < profile.maxNumSeqs) {
      const j = rep.waiting[0];
      const chunk = Math.min(this.prefillTarget[j], budget);
      const needBlocks = ceilDiv(chunk, this.blockSize);
      if (this.kvBlocks - rep.usedBlocks - needBlocks < this.lane.watermarkBlocks) break;
      rep.waiting.shift();
      this.admit(rep, j, needBlocks, now);
      this.addToBatch(batch, j, chunk, chunk === this.prefillTarget[j]);
      budget -= chunk;
      admitted = true;
    }
    return !admitted && allDecodes && batch.requests.length === rep.running.length;
  }

  /**
   * Running requests in priority order each get their next step (a decode token, or the next prompt
   * chunk within `budget`). A step that needs a KV block when none is free preempts the running
   * request with the worst priority that has not been scheduled yet, possibly itself.
   */
  private scheduleRunning(rep: Replica, batch: Batch, budget: number): { preempted: boolean; budgetLeft: number; allDecodes: boolean } {
    let preempted = false;
    let allDecodes = true;
    let i = 0;
    while (i < rep.running.length && budget > 0) {
      const j = rep.running[i];
      const inPrefill = this.ctx[j] < this.prefillTarget[j];
      const tokens = inPrefill ? Math.min(this.prefillTarget[j] - this.ctx[j], budget) : 1;
      const needBlocks = ceilDiv(this.ctx[j] + tokens, this.blockSize) - this.blocks[j];
      let selfPreempted = false;
      while (this.kvBlocks - rep.usedBlocks < needBlocks) {
        const victim = rep.running.pop()!;
        this.preempt(rep, victim);
        preempted = true;
        if (victim === j) {
          selfPreempted = true;
          break;
        }
      }
      if (selfPreempted) break;
      this.allocate(rep, j, needBlocks);
      this.addToBatch(batch, j, tokens, !inPrefill || this.ctx[j] + tokens === this.prefillTarget[j]);
      if (inPrefill) allDecodes = false;
      budget -= tokens;
      i++;
    }
    return { preempted, budgetLeft: budget, allDecodes };
  }

  private addToBatch(batch: Batch, j: number, tokens: number, producesToken: boolean): void {
    batch.requests.push(j);
    batch.tokens.push(tokens);
    batch.producesToken.push(producesToken);
  }

  private allocate(rep: Replica, j: number, blocks: number): void {
    this.blocks[j] += blocks;
    rep.usedBlocks += blocks;
  }

  private admit(rep: Replica, j: number, blocks: number, now: number): void {
    this.status[j] = Status.Running;
    this.allocate(rep, j, blocks);
    this.insertSorted(rep.running, j);
    if (this.admittedUs[j] < 0) {
      this.admittedUs[j] = now;
      this.raw.hist.queue.add(now - this.trace.arrivalUs[j]);
    }
  }

  /** Recompute preemption: drop all KV; the request waits again to prefill prompt + generated tokens. */
  private preempt(rep: Replica, j: number): void {
    const r = this.replicaOf[j];
    this.queuedPrefillTokens[r] -= Math.max(0, this.prefillTarget[j] - this.ctx[j]);
    this.queuedPrefillTokens[r] += this.trace.promptTokens[j] + this.generated[j];
    rep.usedBlocks -= this.blocks[j];
    this.blocks[j] = 0;
    this.ctx[j] = 0;
    this.prefillTarget[j] = this.trace.promptTokens[j] + this.generated[j];
    this.status[j] = Status.Waiting;
    if (this.preemptions[j] === 0) this.raw.preemptedRequests++;
    this.preemptions[j]++;
    this.raw.preemptions++;
    this.insertSorted(rep.waiting, j);
  }

  private finishIteration(r: number, now: number): void {
    const rep = this.replicas[r];
    const batch = rep.batch;
    const k = batch.iterations;
    let anyDone = false;
    for (let e = 0; e < batch.requests.length; e++) {
      const j = batch.requests[e];
      const steps = batch.tokens[e] * k; // k > 1 only for pure-decode batches (1 token each)
      if (this.ctx[j] < this.prefillTarget[j]) this.queuedPrefillTokens[r] -= steps;
      this.ctx[j] += steps;
      if (k > 1) this.blocks[j] = ceilDiv(this.ctx[j], this.blockSize);
      if (!batch.producesToken[e]) continue;
      if (this.firstTokenUs[j] < 0) {
        this.firstTokenUs[j] = batch.firstEndUs;
        this.raw.hist.ttft.add(batch.firstEndUs - this.trace.arrivalUs[j]);
      } else {
        this.raw.hist.itl.add(batch.firstEndUs - this.lastTokenUs[j]);
      }
      this.generated[j] += k;
      this.remainingDecodeTokens[r] -= k - rep.fold.settled;
      this.lastTokenUs[j] = now;
      if (this.generated[j] === this.trace.outputTokens[j]) {
        this.complete(rep, r, j, now);
        anyDone = true;
      }
    }
    if (anyDone) rep.running = rep.running.filter((j) => this.status[j] === Status.Running);
    rep.busy = false;
  }

  private complete(rep: Replica, r: number, j: number, now: number): void {
    const raw = this.raw;
    this.status[j] = Status.Done;
    this.finishUs[j] = now;
    rep.usedBlocks -= this.blocks[j];
    this.blocks[j] = 0;
    this.outstanding[r]--;
    const output = this.trace.outputTokens[j];
    raw.completed++;
    raw.outputTokens += output;
    const arrival = this.trace.arrivalUs[j];
    const ttft = this.firstTokenUs[j] - arrival;
    raw.hist.e2e.add(now - arrival);
    let tpotOk = true;
    if (output > 1) {
      const tpot = Math.floor((now - this.firstTokenUs[j]) / (output - 1));
      raw.hist.tpot.add(tpot);
      tpotOk = tpot <= this.sloTpotUs;
    }
    const ttftOk = ttft <= this.sloTtftUs;
    if (ttftOk) raw.ttftMet++;
    if (tpotOk) raw.tpotMet++;
    if (ttftOk && tpotOk) raw.sloMet++;
    if (now > raw.makespanUs) raw.makespanUs = now;
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** Inserts request j keeping (key, index) ascending. */
  private insertSorted(list: number[], j: number): void {
    const key = this.key[j];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = list[mid];
      if (this.key[m] < key || (this.key[m] === key && m < j)) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, j);
  }

  private checkInvariants(): void {
    this.replicas.forEach((rep, r) => {
      let sum = 0;
      for (const j of rep.running) sum += this.blocks[j];
      for (const j of rep.waiting) if (this.blocks[j] !== 0) throw new Error(`invariant: waiting request ${j} holds blocks`);
      if (rep.usedBlocks < 0 || rep.usedBlocks > this.kvBlocks) throw new Error(`invariant: replica ${r} uses ${rep.usedBlocks} of ${this.kvBlocks} blocks`);
      // During a fast-forwarded run the replica holds the blocks of all its iterations up front.
      if (!rep.busy || rep.batch.iterations === 1) {
        if (sum !== rep.usedBlocks) throw new Error(`invariant: replica ${r} block sum ${sum} != used ${rep.usedBlocks}`);
      }
      if (rep.running.length > this.lane.profile.maxNumSeqs) throw new Error(`invariant: replica ${r} runs ${rep.running.length} sequences`);
      // Token views change with ctx and generated, both applied at iteration ends.
      let prefill = 0;
      let decode = 0;
      for (const j of [...rep.waiting, ...rep.running]) {
        prefill += Math.max(0, this.prefillTarget[j] - this.ctx[j]);
        decode += this.trace.outputTokens[j] - this.generated[j];
      }
      if (rep.busy) decode -= rep.fold.settled * rep.batch.requests.length;
      if (prefill !== this.queuedPrefillTokens[r] || decode !== this.remainingDecodeTokens[r]) {
        throw new Error(`invariant: replica ${r} token views ${this.queuedPrefillTokens[r]}/${this.remainingDecodeTokens[r]} != ${prefill}/${decode}`);
      }
    });
  }

  private rows(): PerRequestRows {
    return {
      arrivalUs: this.trace.arrivalUs,
      replica: this.replicaOf,
      promptTokens: this.trace.promptTokens,
      outputTokens: this.trace.outputTokens,
      status: this.status,
      firstTokenUs: this.firstTokenUs,
      finishUs: this.finishUs,
      preemptions: this.preemptions,
    };
  }
}
