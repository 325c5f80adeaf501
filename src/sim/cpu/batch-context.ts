// The BatchContext of the CPU reference: what a batching strategy may read and do on one replica
// when an iteration starts. Queues and KV change at once; metrics are left to the simulator, which
// reads the batch and the admitted and preempted lists afterwards.
import type { BatchContext, BatchLimits } from '../../policy/engine/batching/types.js';
import { ceilDiv, type SchedulerRules } from '../../policy/engine/types.js';
import { emptyBatch, type Batch, type Replica } from './replica.js';
import { Status, type Requests } from './requests.js';

export class CpuBatchContext implements BatchContext {
  private rep!: Replica;
  private r = 0;
  private now = 0;
  batch: Batch = emptyBatch();
  /** Requests admitted and preempted by this formation, in order. */
  readonly admitted: number[] = [];
  readonly preempted: number[] = [];

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
  }

  get waiting(): readonly number[] {
    return this.rep.waiting;
  }
  get running(): readonly number[] {
    return this.rep.running;
  }
  get replicaWords(): Uint32Array {
    return this.rep.words;
  }

  freeBlocks(): number {
    return this.limits.kvBlocks - this.rep.usedBlocks;
  }

  blocksToAdd(j: number, tokens: number): number {
    return ceilDiv(this.requests.ctx[j] + tokens, this.limits.blockSize) - this.requests.blocks[j];
  }

  scheduled(j: number): boolean {
    return this.batch.requests.includes(j);
  }

  batchLength(): number {
    return this.batch.requests.length;
  }

  admit(j: number, tokens: number): void {
    const t = this.requests;
    if (this.rep.waiting[0] !== j) throw new Error(`internal: admitting ${j}, not the head of replica ${this.r}'s waiting queue`);
    this.rep.waiting.shift();
    t.status[j] = Status.Running;
    this.allocate(j, this.blocksToAdd(j, tokens));
    if (this.rules.runningOrder === 'admission') this.rep.running.push(j);
    else t.insertSorted(this.rep.running, j);
    this.addToBatch(j, tokens, tokens === t.prefillTarget[j]);
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
    this.rep.usedBlocks -= t.blocks[j];
    t.blocks[j] = 0;
    t.ctx[j] = 0;
    t.prefillTarget[j] = t.promptTokens[j] + t.generated[j];
    t.status[j] = Status.Waiting;
    this.rekey(j, this.now);
    t.insertSorted(this.rep.waiting, j);
    this.preempted.push(j);
    return withdrawn;
  }

  private allocate(j: number, blocks: number): void {
    this.requests.blocks[j] += blocks;
    this.rep.usedBlocks += blocks;
  }

  private addToBatch(j: number, tokens: number, producesToken: boolean): void {
    this.batch.requests.push(j);
    this.batch.tokens.push(tokens);
    this.batch.producesToken.push(producesToken);
  }
}
