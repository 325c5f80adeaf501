// The BatchContext of the CPU reference: what a batching strategy may read and do on one replica
// when an iteration starts. Queues, KV and the prefix cache change at once; metrics are left to the
// simulator, which reads the batch and the admitted and preempted lists afterwards.
import type { BatchContext, BatchLimits } from '../../policy/engine/batching/types.js';
import { ceilDiv, type SchedulerRules } from '../../policy/engine/types.js';
import { emptyBatch, type Batch, type Replica } from './replica.js';
import { Status, type Requests } from './requests.js';

export class CpuBatchContext implements BatchContext {
  private rep!: Replica;
  private r = 0;
  private now = 0;
  /** The admission order of this formation when the rules give one (null: the waiting queue's). */
  private order: number[] | null = null;
  /** The last prefix lookup, reused while the cache is unchanged: request, cache version, limit, blocks hit and held by others. */
  private hit = { j: -1, version: -1, limit: -1, blocks: 0, held: 0 };
  batch: Batch = emptyBatch();
  /** Requests admitted and preempted by this formation, in order. */
  readonly admitted: number[] = [];
  readonly preempted: number[] = [];
  /** Admissions of this formation that passed a request waiting ahead of them in key order. */
  outOfOrder = 0;

  constructor(
    readonly limits: BatchLimits,
    readonly requests: Requests,
    readonly rules: SchedulerRules,
    /** Recomputes request j's queue key at an insert event at `nowUs`. */
    private readonly rekey: (j: number, nowUs: number) => void,
    private readonly queuedPrefillTokens: Float64Array,
  ) {}

  begin(rep: Replica, r: number, now: number): void {
    this.rep = rep;
    this.r = r;
    this.now = now;
    this.batch = emptyBatch();
    this.admitted.length = 0;
    this.preempted.length = 0;
    this.outOfOrder = 0;
    this.hit.j = -1;
    this.order = null;
    if (this.rules.admissionOrder && rep.waiting.length > 1) this.order = this.rules.admissionOrder(this);
  }

  get waiting(): readonly number[] {
    return this.order ?? this.rep.waiting;
  }
  get running(): readonly number[] {
    return this.rep.running;
  }
  get replicaWords(): Uint32Array {
    return this.rep.words;
  }

  freeBlocks(): number {
    return this.rep.freeBlocks();
  }

  blocksToAdd(j: number, tokens: number): number {
    const t = this.requests;
    if (this.rep.cache === null || t.status[j] !== Status.Waiting) return ceilDiv(t.ctx[j] + tokens, this.limits.blockSize) - t.blocks[j];
    const { blocks, held } = this.lookup(j);
    return ceilDiv(blocks * this.limits.blockSize + tokens, this.limits.blockSize) - held;
  }

  cachedTokens(j: number): number {
    return this.rep.cache === null ? 0 : this.lookup(j).blocks * this.limits.blockSize;
  }

  /**
   * Waiting request j's cached prefix here: its leading prompt blocks found in the cache, at most
   * floor((prefillTarget - 1) / blockSize) (one token is always computed, as in vLLM), and how
   * many of them running requests hold.
   */
  private lookup(j: number) {
    const cache = this.rep.cache!;
    const hit = this.hit;
    const limit = Math.min(cache.keys.cacheable(j), Math.floor((this.requests.prefillTarget[j] - 1) / this.limits.blockSize));
    if (hit.j !== j || hit.version !== cache.version || hit.limit !== limit) {
      hit.j = j;
      hit.version = cache.version;
      hit.limit = limit;
      hit.blocks = cache.hitBlocks(j, limit);
      hit.held = cache.heldAmong(j, hit.blocks);
    }
    return hit;
  }

  scheduled(j: number): boolean {
    return this.batch.requests.includes(j);
  }

  batchLength(): number {
    return this.batch.requests.length;
  }

  admit(j: number, tokens: number): void {
    const t = this.requests;
    const waiting = this.rep.waiting;
    if (this.waiting[0] !== j) throw new Error(`internal: admitting ${j}, not the head of replica ${this.r}'s waiting queue`);
    if (this.order) {
      this.order.shift();
      if (waiting[0] !== j) this.outOfOrder++;
      waiting.splice(waiting.indexOf(j), 1);
    } else {
      waiting.shift();
    }
    if (this.rep.cache) this.startFromCache(j);
    t.status[j] = Status.Running;
    this.allocate(j, this.blocksToAdd(j, tokens));
    if (this.rules.runningOrder === 'admission') this.rep.running.push(j);
    else t.insertSorted(this.rep.running, j);
    this.addToBatch(j, tokens, t.ctx[j] + tokens === t.prefillTarget[j]);
    this.admitted.push(j);
  }

  schedule(j: number, tokens: number): void {
    const t = this.requests;
    const inPrefill = t.ctx[j] < t.prefillTarget[j];
    this.allocate(j, this.blocksToAdd(j, tokens));
    this.addToBatch(j, tokens, !inPrefill || t.ctx[j] + tokens === t.prefillTarget[j]);
  }

  /** Recompute preemption: drop all KV; the request waits again to prefill prompt + generated tokens. */
  preempt(j: number): number {
    const t = this.requests;
    const running = this.rep.running;
    if (running[running.length - 1] === j) running.pop();
    else running.splice(running.indexOf(j), 1);
    let withdrawn = 0;
    const e = this.batch.requests.indexOf(j);
    if (e >= 0) {
      withdrawn = this.batch.tokens[e];
      this.batch.requests.splice(e, 1);
      this.batch.tokens.splice(e, 1);
      this.batch.producesToken.splice(e, 1);
    }
    this.queuedPrefillTokens[this.r] += t.promptTokens[j] + t.generated[j] - Math.max(0, t.prefillTarget[j] - t.ctx[j]);
    this.rep.release(j, t.blocks[j], t.cachedBlocks[j]);
    t.blocks[j] = 0;
    t.cachedBlocks[j] = 0;
    t.ctx[j] = 0;
    t.prefillTarget[j] = t.promptTokens[j] + t.generated[j];
    t.status[j] = Status.Waiting;
    this.rekey(j, this.now);
    t.insertSorted(this.rep.waiting, j);
    this.order?.push(j);
    this.preempted.push(j);
    return withdrawn;
  }

  /** Admission with prefix caching: j holds its cached prefix and its context starts after it. */
  private startFromCache(j: number): void {
    const t = this.requests;
    const { blocks } = this.lookup(j);
    const tokens = blocks * this.limits.blockSize;
    if (t.firstHitTokens[j] < 0) t.firstHitTokens[j] = tokens;
    if (blocks === 0) return;
    this.rep.usedBlocks += this.rep.cache!.acquire(j, blocks);
    t.blocks[j] = blocks;
    t.cachedBlocks[j] = blocks;
    t.ctx[j] = tokens;
    this.queuedPrefillTokens[this.r] -= tokens;
  }

  private allocate(j: number, blocks: number): void {
    this.requests.blocks[j] += blocks;
    this.rep.take(blocks);
  }

  private addToBatch(j: number, tokens: number, producesToken: boolean): void {
    this.batch.requests.push(j);
    this.batch.tokens.push(tokens);
    this.batch.producesToken.push(producesToken);
  }
}
