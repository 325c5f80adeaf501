// The one description of every word the host and the shader share: per-lane parameters, lane
// state, replica and slot records, stop codes, work counters. compose.ts turns it into WGSL
// constants (shaders/engine/*.wgsl use only those names); the host indexes by the same names.
import { BUCKETS } from '../../metrics/histogram.js';
import { COUNTERS, HISTOGRAMS } from '../../metrics/record.js';
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

/** Per-lane parameters, lane-minor in the params buffer (word = field * lanes + lane). */
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
  ['ITER_NS_BASE', 1],
  ['ITER_NS_PER_PREFILL_TOKEN', 1],
  ['ITER_NS_PER_DECODE_SEQ', 1],
  ['ITER_NS_PER_CONTEXT_TOKEN', 1],
  ['WATERMARK_BLOCKS', 1],
  ['SLO_TTFT_US', 1],
  ['SLO_TPOT_US', 1],
  ['ROUTER', 1], // index in ROUTERS
  ['SCHEDULER', 1], // index in ENGINE_SCHEDULERS
  ['BATCHING', 1], // index in BATCHINGS
] as const);
export type ParamName = keyof typeof PARAMS.offset;

/** Counters the shader keeps (u64 pairs, COUNTERS order; 'requests' is the trace length, not counted). */
export const COUNTER_WORDS = 2 * COUNTERS.length;
/** Per histogram: count (lo, hi), sum (lo, hi), max. */
export const HIST_STAT_WORDS = 5;

/** Lane state: status, cursors, counters, histogram statistics, clock origin, work counters. */
export const LANE = region([
  ['STATUS', 1], // 0 running, 1 done, >= 2 stopped (STOP)
  ['NEXT', 1], // next arrival (trace position)
  ['ROUTED', 1],
  ['FREE', 1], // free-slot stack size
  ['HIGH', 1], // slots ever handed out
  ['CNT', COUNTER_WORDS],
  ['HIST', HIST_STAT_WORDS * HISTOGRAMS.length],
  ['BASE', 2], // (lo, hi): the lane's clock origin in trace microseconds (clock.wgsl rebase())
  ['WORK', 2 * WORK_FIELDS.length], // (lo, hi) per work counter, kept under WORK_COUNTERS only
] as const);

/** Why a lane stopped. Codes >= 2 send the lane to the CPU reference with the text as its reason. */
export const STOP = {
  DONE: { code: 1, reason: '' },
  SLOTS: { code: 2, reason: 'slot table full (more requests in flight than the GPU slot capacity)' },
  CLOCK: { code: 3, reason: 'a time span above 2^32-1 µs (71.6 min)' },
  INTERNAL: { code: 4, reason: 'internal: a replica with work scheduled nothing' },
  LOOP_LIMIT: { code: 5, reason: "one event needed more loop iterations than the software adapter's per-invocation limit (65535)" },
  REBASE: { code: 6, reason: 'a request in flight for over 2^30 µs (17.9 min) when the GPU clock origin had to move' },
} as const;

export function stopReason(code: number): string {
  return Object.values(STOP).find((s) => s.code === code)?.reason || `unknown GPU lane status ${code}`;
}

/**
 * Replica fields, in vec4 records: field f is component f % 4 of record f / 4.
 *   record 0  (BUSY, END, WAITING, RUNNING)     what step() tests for every replica: one load each
 *   record 1  (USED, OUTSTANDING, W_HEAD, W_TAIL)
 *   record 2  (R_HEAD, R_TAIL, FIRST_END, K)
 *   record 3  the fold: (context tokens of its first iteration, iterations after which its first
 *             request completes, requests in the batch, unused), written and read whole
 *   record 4.. the fold's residue table: requests by context mod block size, RES_CAP counts
 */
export const REPLICA_FIELDS = [
  'BUSY', // 0 idle, BUSY (an iteration or fold in progress), BUSY_OPEN (a fold later arrivals lengthen)
  'END', // end of the iteration (or fold) in progress
  'WAITING', // waiting requests
  'RUNNING', // running requests
  'USED', // KV blocks in use, including those of iterations in progress
  'OUTSTANDING', // waiting + running
  'W_HEAD', // waiting list head and tail (links are slot + 1, NIL = none)
  'W_TAIL',
  'R_HEAD', // running list head and tail
  'R_TAIL',
  'FIRST_END', // end of the batch's first iteration
  'K', // iterations folded into the batch
] as const;
export const REPLICA_FOLD_RECORD = 3;
export const REPLICA_RESIDUE_RECORD = 4;
/** Largest block size the fast-forward residue table holds. */
export const RES_CAP = 64;
export const REPLICA_RECORDS = REPLICA_RESIDUE_RECORD + RES_CAP / 4;

/**
 * Slot fields (one request in flight), in vec4 records:
 *   A (INDEX, KEY, CTX, GENERATED)
 *   B (PREFILL_TARGET, BLOCKS, FIRST_TOKEN, LAST_TOKEN)   PREFILL_TARGET: prompt + generated at (re)admission
 *   C (FLAGS, BATCH_TOKENS, NEXT, PREV)                   BATCH_TOKENS: tokens in the batch, 0 = not in it
 *   D (FREE_STACK)                                        the free-slot stack, indexed by stack position
 */
export const SLOT_FIELDS = [
  'INDEX',
  'KEY',
  'CTX',
  'GENERATED',
  'PREFILL_TARGET',
  'BLOCKS',
  'FIRST_TOKEN',
  'LAST_TOKEN',
  'FLAGS',
  'BATCH_TOKENS',
  'NEXT',
  'PREV',
  'FREE_STACK',
] as const;
export const SLOT_RECORDS = 4;

/** Histogram buckets of all six histograms of one lane. */
export const HIST_WORDS = BUCKETS * HISTOGRAMS.length;

const upper = (s: string) => s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
const constant = (name: string, value: number | boolean) =>
  `const ${name}: ${typeof value === 'boolean' ? 'bool' : 'u32'} = ${typeof value === 'boolean' ? value : `${value}u`};`;

/** WGSL constants for every name above (P_*, LS_*, ST_*, C_*, H_*, W_*, R_*, S_*, sizes). */
export function layoutWgsl(): string {
  const lines = ['// Generated by src/sim/gpu/layout.ts: the layout shared with the host.'];
  for (const [name, w] of Object.entries(PARAMS.offset)) lines.push(constant(`P_${name}`, w as number));
  lines.push(constant('PARAM_WORDS', PARAMS.words));
  for (const [name, w] of Object.entries(LANE.offset)) lines.push(constant(`LS_${name}`, w as number));
  lines.push(constant('LANE_WORDS', LANE.words), constant('COUNTER_WORDS', COUNTER_WORDS), constant('HIST_STAT_WORDS', HIST_STAT_WORDS * HISTOGRAMS.length));
  for (const [name, s] of Object.entries(STOP)) lines.push(constant(`ST_${name}`, s.code));
  COUNTERS.forEach((c, i) => lines.push(constant(`C_${upper(c)}`, i)));
  HISTOGRAMS.forEach((h, i) => lines.push(constant(`H_${upper(h)}`, i)));
  WORK_FIELDS.forEach((w, i) => lines.push(constant(`W_${upper(w)}`, i)));
  lines.push(constant('W_COUNT', WORK_FIELDS.length));
  REPLICA_FIELDS.forEach((f, i) => lines.push(constant(`R_${f}`, i)));
  lines.push(constant('R_FOLD_RECORD', REPLICA_FOLD_RECORD), constant('R_RESIDUE_RECORD', REPLICA_RESIDUE_RECORD), constant('RES_CAP', RES_CAP), constant('R_RECORDS', REPLICA_RECORDS));
  SLOT_FIELDS.forEach((f, i) => lines.push(constant(`S_${f}`, i)));
  lines.push(constant('S_RECORDS', SLOT_RECORDS));
  return lines.join('\n');
}
