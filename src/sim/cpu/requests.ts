// Per-request state of the CPU reference, indexed by trace position, and the queue order.
import type { RequestTable } from '../../policy/engine/types.js';
import type { Trace } from '../../trace/trace.js';

export const Status = {
  Pending: 0,
  Waiting: 1,
  Running: 2,
  Done: 3,
  RejectedMaxModelLen: 4,
  RejectedKvCapacity: 5,
} as const;

const U32 = 0x1_0000_0000n;

export class Requests implements RequestTable {
  readonly promptTokens: Uint32Array;
  readonly outputTokens: Uint32Array;
  readonly arrivalUs: Float64Array;
  readonly status: Uint8Array;
  readonly replicaOf: Int32Array;
  readonly ctx: Int32Array; // tokens whose KV is stored
  readonly generated: Int32Array;
  readonly prefillTarget: Int32Array; // prompt + generated at (re)admission
  readonly blocks: Int32Array;
  /** Leading blocks of the context that are prefix-cache entries the request holds (prefix caching on). */
  readonly cachedBlocks: Int32Array;
  /** Cached prompt tokens found at the first admission (-1 before it). */
  readonly firstHitTokens: Int32Array;
  readonly firstTokenUs: Float64Array;
  readonly lastTokenUs: Float64Array;
  readonly admittedUs: Float64Array;
  readonly finishUs: Float64Array;
  readonly preemptions: Int32Array;
  /** Queue key, a u64 as two u32 words (the GPU engine's layout). */
  readonly keyHi: Uint32Array;
  readonly keyLo: Uint32Array;
  readonly words: Uint32Array;

  constructor(
    trace: Trace,
    readonly predicted: Uint32Array,
    readonly requestWords: number,
  ) {
    const n = trace.arrivalUs.length;
    this.promptTokens = trace.promptTokens;
    this.outputTokens = trace.outputTokens;
    this.arrivalUs = trace.arrivalUs;
    this.status = new Uint8Array(n);
    this.replicaOf = new Int32Array(n).fill(-1);
    this.ctx = new Int32Array(n);
    this.generated = new Int32Array(n);
    this.prefillTarget = new Int32Array(n);
    this.blocks = new Int32Array(n);
    this.cachedBlocks = new Int32Array(n);
    this.firstHitTokens = new Int32Array(n).fill(-1);
    this.firstTokenUs = new Float64Array(n).fill(-1);
    this.lastTokenUs = new Float64Array(n).fill(-1);
    this.admittedUs = new Float64Array(n).fill(-1);
    this.finishUs = new Float64Array(n).fill(-1);
    this.preemptions = new Int32Array(n);
    this.keyHi = new Uint32Array(n);
    this.keyLo = new Uint32Array(n);
    this.words = new Uint32Array(n * requestWords);
  }

  setKey(j: number, key: bigint): void {
    if (key < 0n || key >= U32 * U32) throw new Error(`internal: key ${key} of request ${j} is not a u64`);
    this.keyHi[j] = Number(key / U32);
    this.keyLo[j] = Number(key % U32);
  }

  /** Whether request a comes before request b in queue order: (key, index) ascending. */
  before(a: number, b: number): boolean {
    const ha = this.keyHi[a];
    const hb = this.keyHi[b];
    if (ha !== hb) return ha < hb;
    const la = this.keyLo[a];
    const lb = this.keyLo[b];
    return la !== lb ? la < lb : a < b;
  }

  /** Inserts request j keeping (key, index) ascending. */
  insertSorted(list: number[], j: number): void {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.before(list[mid], j)) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, j);
  }
}
