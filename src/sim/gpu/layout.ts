// The one description of every word the host and the shader share: per-lane parameters, lane
// state, replica and slot records, stop codes, work counters. compose.ts turns it into WGSL
// constants (shaders/engine/*.wgsl use only those names); the host indexes by the same names.
import { BUCKETS } from '../../metrics/histogram.js';
import { COUNTERS, HISTOGRAMS } from '../../metrics/record.js';
import { MODEL_WORDS } from '../../model/iteration.js';
import { WORK_FIELDS } from '../job.js';

/** Words of a flat region, by name, in declaration order. */
export interface Region<N extends string> {
  offset: Record<N, number>;
  words: number;
}

function region<N extends string>(fields: readonly (readonly [N, number])[]): Region<N> {
  const offset = {} as Record<N, number>;
  let words = 0;
  for (const [name, size] of fields) {
    offset[name] = words;
    words += size;
  }
  return { offset, words };
}

/** PARAMS.PREDICTED of a lane whose predictions are the trace's output lengths (state.wgsl trace_predicted). */
export const NO_PREDICTIONS = 0xffffffff;
/** PARAMS.PREFIX's first word on a lane with prefix caching off. */
export const NO_PREFIX_CACHE = 0xffffffff;

/**
 * One replica's prefix-cache region (cache.wgsl), in u32 words: a header (evictable list head and
 * tail, evictable count, next fresh entry id, free-id list), then an open-addressing
 * table, then the entries (chain id, block index, references, list links prev and next).
 */
export const CACHE_HEADER = ['HEAD', 'TAIL', 'EVICTABLE', 'NEXT_ID', 'FREE_IDS'] as const;
export const CACHE_HEADER_WORDS = 8;
export const CACHE_ENTRY = ['CHAIN', 'BLOCK', 'REFS', 'PREV', 'NEXT'] as const;

/** Table slots of a cache of `kvBlocks` entries: a power of two at least twice as many, so probes stay short. */
export function cacheTableSlots(kvBlocks: number): number {
  return 2 ** Math.ceil(Math.log2(2 * Math.max(1, kvBlocks)));
}

/** Words of one replica's cache region on a lane with `kvBlocks` blocks (entries never exceed them). */
export function cacheRegionWords(kvBlocks: number): number {
  return CACHE_HEADER_WORDS + cacheTableSlots(kvBlocks) + CACHE_ENTRY.length * kvBlocks;
}

/** PARAMS.PREFIX_ROUTER's first word on a lane whose router reads no prefix units (not a prefix router, or a trace without hashes). */
export const NO_PREFIX_UNITS = 0xffffffff;

/**
 * The prefix routers' memory (src/policy/router/prefix-index.wgsl), a region of the lane's `cache`
 * binding after its prefix caches: a header (next refresh instant, u64), the replica views'
 * snapshot (used blocks, outstanding per replica), then per replica a PrefixIndex of `capacity`
 * chain ids: a header (LRU list head and tail, entries), an open-addressing table of a power of
 * two at least twice `capacity` slots, and `capacity` entries (chain id, list links).
 */
export const ROUTER_HEADER_WORDS = 4;
export const ROUTER_VIEW_WORDS = 2;
export const INDEX_HEADER = ['HEAD', 'TAIL', 'SIZE'] as const;
export const INDEX_HEADER_WORDS = 4;
export const INDEX_ENTRY = ['CHAIN', 'PREV', 'NEXT'] as const;

/** Words of one replica's PrefixIndex of `capacity` chain ids. */
export function prefixIndexWords(capacity: number): number {
  return INDEX_HEADER_WORDS + cacheTableSlots(capacity) + INDEX_ENTRY.length * capacity;
}

/** Words of a prefix router's memory: the snapshot always, the indexes only where the trace has prefix units. */
export function prefixRouterWords(replicas: number, capacity: number, hasUnits: boolean): number {
  return ROUTER_HEADER_WORDS + ROUTER_VIEW_WORDS * replicas + (hasUnits ? replicas * prefixIndexWords(capacity) : 0);
}

/** Per-lane parameters: vec4 records, lane-minor (record q of lane l at q * lanes + l). */
export const PARAMS = region([
  ['TRACE_OFFSET', 1], // first trace row of the lane
  ['TRACE_LENGTH', 1],
  ['REPLICAS', 1],
  ['SEED', 1],
  ['KV_BLOCKS', 1],
  ['BLOCK_SIZE', 1],
  ['MAX_NUM_SEQS', 1],
  ['MAX_BATCHED_TOKENS', 1],
  ['MAX_MODEL_LEN', 1],
  ['WATERMARK_BLOCKS', 1],
  ['SLO_TTFT_US', 1],
  ['SLO_TPOT_US', 1],
  ['ROUTER', 1], // index in ROUTERS
  ['SCHEDULER', 1], // index in ENGINE_SCHEDULERS
  ['BATCHING', 1], // index in BATCHING_STRATEGIES
  ['PREDICTED', 1], // word of the trace buffer holding request 0's predicted output (NO_PREDICTIONS: the oracle's, the trace's output)
  ['SCHEDULER_PARAMS', 4], // the parameters the scheduler's WGSL twin reads (EngineScheduler.gpuParams)
  ['MODEL', MODEL_WORDS], // the iteration-time model as packModelWords lays it out (src/model/iteration.ts)
  ['ROUTER_PARAMS', 4], // the router's parameters as its twin reads them (Router.gpuParams)
  // Prefix caching (CACHING pipelines; cache.wgsl): the trace word of the lane's request -> first
  // chain id table (NO_PREFIX_CACHE: caching off), tokens per prefix unit, table slots - 1, and the
  // words of one replica's cache region.
  ['PREFIX', 4],
  // Prefix routers (prefix-index.wgsl): the trace word of the lane's request -> first chain id
  // table (NO_PREFIX_UNITS: none), tokens per prefix unit, index capacity, its table slots - 1;
  // then the router memory's first word in the lane's cache region, the views' refresh period (µs,
  // 0: live), the words of one replica's index, and a spare word.
  ['PREFIX_ROUTER', 8],
] as const);
export type ParamName = keyof typeof PARAMS.offset;

const roundUp4 = (n: number) => Math.ceil(n / 4) * 4;
/** Counters the shader keeps (u64 pairs, COUNTERS order; 'requests' is the trace length, not counted). */
export const COUNTER_WORDS = roundUp4(2 * COUNTERS.length);
/** Per histogram: count (lo, hi), sum (lo, hi), max. */
export const HIST_STAT_WORDS = 5;

/**
 * Lane state, in vec4 records (lane-minor: record q of lane l at q * lanes + l). The shader keeps
 * all of it in private variables for a dispatch (state.wgsl load_lane / store_lane).
 */
export const LANE = region([
  ['STATUS', 1], // 0 running, 1 done, >= 2 stopped (STOP)
  ['NEXT', 1], // next arrival (trace position)
  ['ROUTED', 1],
  ['FREE', 1], // head of the free-slot list (slot + 1, NIL = none)
  ['HIGH', 1], // slots ever handed out
  ['BASE', 2], // (lo, hi): the lane's clock origin in trace microseconds (clock.wgsl rebase())
  ['PAD', 1],
  ['BUSY_MASK', 4], // replicas with an iteration in progress (vec4<u32> bit mask)
  ['OPEN_MASK', 4], // replicas whose fold arrivals routed elsewhere lengthen
  ['START_MASK', 4], // idle replicas with work, to start at the end of the instant
  ['PENDING_MASK', 4], // replicas whose ended batch is not settled yet (batch.wgsl)
  ['CNT', COUNTER_WORDS],
  ['HIST', roundUp4(HIST_STAT_WORDS * HISTOGRAMS.length)],
  ['WORK', roundUp4(2 * WORK_FIELDS.length)], // (lo, hi) per work counter, kept under WORK_COUNTERS only
] as const);

/** Why a lane stopped. Codes >= 2 send the lane to the CPU reference with the text as its reason. */
export const STOP = {
  DONE: { code: 1, reason: '' },
  SLOTS: { code: 2, reason: 'slot table full (more requests in flight than the GPU slot capacity)' },
  CLOCK: { code: 3, reason: 'a time span above 2^32-1 µs (71.6 min)' },
  INTERNAL: { code: 4, reason: 'internal: a replica with work scheduled nothing' },
  LOOP_LIMIT: { code: 5, reason: "one event needed more loop iterations than the software adapter's per-invocation limit (65535)" },
  REBASE: { code: 6, reason: 'a request in flight for over 2^30 µs (17.9 min) when the GPU clock origin had to move' },
  VIEWS: { code: 7, reason: "a replica's queued prompt or predicted remaining output tokens above 2^32-1" },
} as const;

export function stopReason(code: number): string {
  return Object.values(STOP).find((s) => s.code === code)?.reason || `unknown GPU lane status ${code}`;
}

/** Replica masks (busy, open fold, start pending) are vec4<u32>: the GPU engine runs lanes of up to 128 replicas. */
export const MAX_GPU_REPLICAS = 128;

/**
 * Replica fields, in vec4 records: field f is component f % 4 of record f / 4.
 *   record 0  (USED, OUTSTANDING, WAITING, RUNNING)       what routers and admission read
 *   record 1  (W_ROOT, R_HEAD, R_TAIL, PREV_END)          queue roots; end of the previous batch
 *   record 2  (FOLD_CONTEXT, MIN_LEFT, K, FIRST_END)      the batch in progress
 *   record 3  (RUN_BUCKETS, KV_TIMES, ITL_TIMES, FOLD_N)  histogram runs folds leave unwritten; fold size
 *   record 4  (MIN_COUNT, MIN_BLOCKS, RESIDUES_LO, RESIDUES_HI)
 *   record 5  (QUEUED_PREFILL, PREDICTED_DECODE, BATCH_PREFILL, BATCH_PRODUCERS)  token views, kept
 *             only in pipelines with a router that reads them (TOKEN_VIEWS; the decode view only
 *             with a router that reads predictions, PREDICTED_VIEW)
 *   record 6  (MIN_EXCESS, -, -, -)                      PREDICTED_VIEW pipelines
 *   record 7.. the residue table of folds of more than 8 requests: requests by context mod block
 *             size, RES_CAP counts
 * End times live apart, four replicas to a vec4 (state.wgsl ends_rec), so that step() finds the
 * next event with one load per four replicas; which replicas are busy is in the lane's masks.
 */
export const REPLICA_FIELDS = [
  'USED', // KV blocks in use, including those of iterations in progress
  'OUTSTANDING', // waiting + running
  'WAITING', // waiting requests
  'RUNNING', // running requests (not counting those that completed at a batch end not yet settled)
  'W_ROOT', // root of the waiting queue, a skew heap (links are slot + 1, NIL = none)
  'R_HEAD', // running list head and tail
  'R_TAIL',
  'PREV_END', // end of the replica's previous batch: the last token time of its F_RECENT requests
  'FOLD_CONTEXT', // context tokens of the batch's first iteration (the fold's)
  'MIN_LEFT', // fewest tokens left to generate among the batch's token-producing requests
  'K', // iterations folded into the batch in progress
  'FIRST_END', // end of the batch's first iteration
  'RUN_BUCKETS', // folds' histogram runs not yet written: KV-use bucket << 16 | ITL bucket ...
  'KV_TIMES', // ... and their samples (written when a bucket changes, and when the lane ends)
  'ITL_TIMES',
  'FOLD_N', // requests in the fold's batch
  'MIN_COUNT', // requests at MIN_LEFT: they complete when the batch ends after MIN_LEFT iterations ...
  'MIN_BLOCKS', // ... freeing these blocks
  'RESIDUES_LO', // a fold of up to 8 requests: their contexts mod block size, one byte each (0xff: none)
  'RESIDUES_HI',
  'QUEUED_PREFILL', // prompt tokens still to prefill (ClusterView.queuedPrefillTokens)
  'PREDICTED_DECODE', // Σ max(predicted - generated, 0) over outstanding requests, as of the batch in progress's start
  'BATCH_PREFILL', // prompt tokens the batch in progress prefills ...
  'BATCH_PRODUCERS', // ... and its requests that lower PREDICTED_DECODE by one each iteration
  'MIN_EXCESS', // predicted - output of the MIN_COUNT requests, when above 0: taken off PREDICTED_DECODE as they complete
  'SCHEDULER_WORD', // the scheduler's own per-replica word (sglang: its new-token ratio, scheduler_word_* in its twin)
] as const;
export const REPLICA_RESIDUE_RECORD = Math.ceil(REPLICA_FIELDS.length / 4);
/** Largest block size the fast-forward residue table holds. */
export const RES_CAP = 64;
export const REPLICA_RECORDS = REPLICA_RESIDUE_RECORD + RES_CAP / 4;

/**
 * Slot fields (one request in flight), in two vec4 records:
 *   HOT (LINKS, CTX_FLAGS, PREFILL_LEFT, OUTPUT_LEFT)   all a walk over the running list reads
 *   ID  (INDEX, KEY, FIRST_TOKEN, LAST_TOKEN)
 * and, on pipelines whose schedulers need it (compose.ts slotRecords), a third:
 *   AUX (CHUNK, -, -, -)   the prompt chunk scheduled in the batch being formed; without AUX it is
 *                          kept in KEY, which is free when the scheduler computes its key (queue_key)
 * LINKS packs two 16-bit links (slot + 1): (next << 16 | prev) in the running list, (left << 16 |
 * right) in a waiting heap, (next << 16) in the free list. CTX_FLAGS packs the context (tokens whose
 * KV is stored, below 2^24 since maxModelLen <= 2^24) and 8 flag bits (<< 24). A request holds
 * ceil(ctx / blockSize) blocks (outside an iteration in progress), so blocks are not stored.
 */
export const SLOT_FIELDS = ['LINKS', 'CTX_FLAGS', 'PREFILL_LEFT', 'OUTPUT_LEFT', 'INDEX', 'KEY', 'FIRST_TOKEN', 'LAST_TOKEN', 'CHUNK'] as const;
export const SLOT_RECORDS = 2;
export const AUX_SLOT_RECORDS = 3;
/** Slot links are 16 bits (slot + 1). */
export const MAX_SLOTS = 65535;

/** Histogram buckets of all six histograms of one lane. */
export const HIST_WORDS = BUCKETS * HISTOGRAMS.length;

const upper = (s: string) => s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
const constant = (name: string, value: number | boolean) =>
  `const ${name}: ${typeof value === 'boolean' ? 'bool' : 'u32'} = ${typeof value === 'boolean' ? value : `${value}u`};`;

/** WGSL constants for every name above (P_*, LS_*, ST_*, C_*, H_*, W_*, R_*, S_*, sizes). */
export function layoutWgsl(): string {
  const lines = ['// Generated by src/sim/gpu/layout.ts: the layout shared with the host.'];
  for (const [name, w] of Object.entries(PARAMS.offset)) lines.push(constant(`P_${name}`, w as number));
  lines.push(constant('NO_PREDICTIONS', NO_PREDICTIONS), constant('NO_PREFIX_CACHE', NO_PREFIX_CACHE));
  CACHE_HEADER.forEach((f, i) => lines.push(constant(`CH_${f}`, i)));
  CACHE_ENTRY.forEach((f, i) => lines.push(constant(`CE_${f}`, i)));
  lines.push(constant('CACHE_HEADER_WORDS', CACHE_HEADER_WORDS), constant('CACHE_ENTRY_WORDS', CACHE_ENTRY.length));
  lines.push(constant('NO_PREFIX_UNITS', NO_PREFIX_UNITS), constant('ROUTER_HEADER_WORDS', ROUTER_HEADER_WORDS), constant('ROUTER_VIEW_WORDS', ROUTER_VIEW_WORDS));
  INDEX_HEADER.forEach((f, i) => lines.push(constant(`IH_${f}`, i)));
  INDEX_ENTRY.forEach((f, i) => lines.push(constant(`IE_${f}`, i)));
  lines.push(constant('INDEX_HEADER_WORDS', INDEX_HEADER_WORDS), constant('INDEX_ENTRY_WORDS', INDEX_ENTRY.length));
  lines.push(constant('PARAM_RECORDS', PARAMS.words / 4), constant('MODEL_WORDS', MODEL_WORDS));
  for (const [name, w] of Object.entries(LANE.offset)) lines.push(constant(`LS_${name}`, w as number));
  lines.push(
    constant('LANE_RECORDS', LANE.words / 4),
    constant('COUNTER_WORDS', COUNTER_WORDS),
    constant('HIST_STAT_WORDS', roundUp4(HIST_STAT_WORDS * HISTOGRAMS.length)),
    constant('WORK_WORDS', roundUp4(2 * WORK_FIELDS.length)),
  );
  for (const [name, s] of Object.entries(STOP)) lines.push(constant(`ST_${name}`, s.code));
  COUNTERS.forEach((c, i) => lines.push(constant(`C_${upper(c)}`, i)));
  HISTOGRAMS.forEach((h, i) => lines.push(constant(`H_${upper(h)}`, i)));
  WORK_FIELDS.forEach((w, i) => lines.push(constant(`W_${upper(w)}`, i)));
  lines.push(constant('W_COUNT', WORK_FIELDS.length));
  REPLICA_FIELDS.forEach((f, i) => lines.push(constant(`R_${f}`, i)));
  lines.push(constant('R_RESIDUE_RECORD', REPLICA_RESIDUE_RECORD), constant('RES_CAP', RES_CAP), constant('R_RECORDS', REPLICA_RECORDS));
  SLOT_FIELDS.forEach((f, i) => lines.push(constant(`S_${f}`, i)));
  return lines.join('\n');
}
