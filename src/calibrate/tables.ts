// Readers for measured timings: Vidur's operator profiles (mlp.csv, attention rows, all_reduce.csv)
// and a plain CSV of measured iterations. Every error names the file and line (ConfigError, exit 2).
import { readFileSync } from 'node:fs';
import { CsvError, parse } from 'csv-parse/sync';
import { ConfigError } from '../model/profile.js';
import { attendedPairs, type BatchSums } from '../model/iteration.js';

/** The non-attention operators of one transformer layer, summed as Vidur composes them (no embedding). */
export const LAYER_OPERATORS = [
  'input_layernorm',
  'attn_pre_proj',
  'attn_rope',
  'attn_post_proj',
  'post_attention_layernorm',
  'mlp_up_proj',
  'mlp_act',
  'mlp_down_proj',
  'add',
] as const;

interface Table {
  file: string;
  header: string[];
  rows: { line: number; record: string[] }[];
}

function readTable(file: string): Table {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    parsed = parse(text, { bom: true, trim: true, skip_empty_lines: true, info: true }) as unknown as typeof parsed;
  } catch (e) {
    const line = e instanceof CsvError && typeof e.lines === 'number' ? `:${e.lines}` : '';
    throw new ConfigError(`${file}${line}: CSV syntax: ${(e as Error).message}`);
  }
  if (parsed.length === 0) throw new ConfigError(`${file}: empty file, expected a header row`);
  return { file, header: parsed[0].record, rows: parsed.slice(1).map((r) => ({ line: r.info.lines, record: r.record })) };
}

/** Index of the first header name present, or -1 (or an error naming the candidates when required). */
function column(t: Table, names: string[], required = true): number {
  for (const n of names) {
    const i = t.header.indexOf(n);
    if (i >= 0) return i;
  }
  if (required) throw new ConfigError(`${t.file}:1: missing column ${names.join(' or ')}`);
  return -1;
}

function num(t: Table, row: { line: number; record: string[] }, col: number, what: string, min = 0): number {
  const raw = row.record[col];
  const v = raw === undefined || raw === '' ? NaN : Number(raw);
  if (!Number.isFinite(v) || v < min) throw new ConfigError(`${t.file}:${row.line}: field ${what}: expected a number >= ${min}, got "${raw ?? ''}"`);
  return v;
}

function int(t: Table, row: { line: number; record: string[] }, col: number, what: string, min = 0): number {
  const v = num(t, row, col, what, min);
  if (!Number.isInteger(v)) throw new ConfigError(`${t.file}:${row.line}: field ${what}: expected an integer, got "${row.record[col]}"`);
  return v;
}

/** Per-layer milliseconds of the layer's non-attention operators at each profiled batch size. */
export interface OperatorProfile {
  tokens: number[];
  ms: number[];
  heads: number;
  kvHeads: number;
  hidden: number;
}

export function readOperatorProfile(file: string, tensorParallel: number): OperatorProfile {
  const t = readTable(file);
  const tokensCol = column(t, ['num_tokens']);
  const tpCol = column(t, ['num_tensor_parallel_workers'], false);
  const opCols = LAYER_OPERATORS.map((op) => column(t, [`time_stats.${op}.median`]));
  const dims = ['n_head', 'n_kv_head', 'n_embd'].map((n) => column(t, [n]));
  // Vidur's files repeat a few batch sizes (profiled twice): their median stands for them.
  const byTokens = new Map<number, number[]>();
  let shape: number[] | null = null;
  for (const row of t.rows) {
    if (tpCol >= 0 && int(t, row, tpCol, 'num_tensor_parallel_workers', 1) !== tensorParallel) continue;
    const tokens = int(t, row, tokensCol, 'num_tokens', 1);
    let ms = 0;
    opCols.forEach((c, k) => (ms += num(t, row, c, `time_stats.${LAYER_OPERATORS[k]}.median`)));
    let list = byTokens.get(tokens);
    if (!list) byTokens.set(tokens, (list = []));
    list.push(ms);
    shape ??= dims.map((c, k) => int(t, row, c, ['n_head', 'n_kv_head', 'n_embd'][k], 1));
  }
  if (!shape || byTokens.size < 2) throw new ConfigError(`${file}: fewer than 2 rows with num_tensor_parallel_workers = ${tensorParallel}`);
  const tokens = [...byTokens.keys()].sort((a, b) => a - b);
  return { tokens, ms: tokens.map((n) => median(byTokens.get(n)!)), heads: shape[0], kvHeads: shape[1], hidden: shape[2] };
}

/** Linear interpolation in a table sorted by x, extended linearly past both ends. */
export function interpolate(xs: number[], ys: number[], x: number): number {
  let i = 1;
  while (i < xs.length - 1 && xs[i] < x) i++;
  const [x0, x1, y0, y1] = [xs[i - 1], xs[i], ys[i - 1], ys[i]];
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

export interface PrefillAttentionRow {
  chunk: number;
  contextBefore: number;
  attentionMs: number;
  kvSaveMs: number | null;
}

export interface DecodeAttentionRow {
  batch: number;
  context: number;
  attentionMs: number;
}

/**
 * Attention rows, per layer: Vidur's attention.csv (`time_stats.attn_prefill.median`, ...) or its
 * reduced form (`attn_prefill_median_ms`, `kv_save_median_ms`, `attn_decode_median_ms`). A row with
 * a prefill chunk is a prefill row, else a decode row.
 */
export function readAttentionRows(file: string, tensorParallel: number): { prefill: PrefillAttentionRow[]; decode: DecodeAttentionRow[] } {
  const t = readTable(file);
  const tpCol = column(t, ['num_tensor_parallel_workers'], false);
  const chunkCol = column(t, ['prefill_chunk_size'], false);
  const batchCol = column(t, ['batch_size'], false);
  const kvCol = column(t, ['kv_cache_size']);
  const prefillCol = column(t, ['time_stats.attn_prefill.median', 'attn_prefill_median_ms'], false);
  const saveCol = column(t, ['time_stats.attn_kv_cache_save.median', 'kv_save_median_ms'], false);
  const decodeCol = column(t, ['time_stats.attn_decode.median', 'attn_decode_median_ms'], false);
  if (chunkCol < 0 && batchCol < 0) throw new ConfigError(`${file}:1: missing column prefill_chunk_size or batch_size`);
  const prefill: PrefillAttentionRow[] = [];
  const decode: DecodeAttentionRow[] = [];
  for (const row of t.rows) {
    if (tpCol >= 0 && int(t, row, tpCol, 'num_tensor_parallel_workers', 1) !== tensorParallel) continue;
    const chunk = chunkCol >= 0 ? int(t, row, chunkCol, 'prefill_chunk_size') : 0;
    const context = int(t, row, kvCol, 'kv_cache_size');
    if (chunk > 0) {
      if (prefillCol < 0) throw new ConfigError(`${file}:1: prefill rows need column time_stats.attn_prefill.median or attn_prefill_median_ms`);
      const attentionMs = num(t, row, prefillCol, t.header[prefillCol]);
      prefill.push({ chunk, contextBefore: context, attentionMs, kvSaveMs: saveCol >= 0 ? num(t, row, saveCol, t.header[saveCol]) : null });
    } else {
      if (decodeCol < 0 || batchCol < 0) throw new ConfigError(`${file}:1: decode rows need columns batch_size and time_stats.attn_decode.median or attn_decode_median_ms`);
      decode.push({ batch: int(t, row, batchCol, 'batch_size', 1), context, attentionMs: num(t, row, decodeCol, t.header[decodeCol]) });
    }
  }
  return { prefill, decode };
}

/** Median all-reduce milliseconds by message bytes for `workers` GPUs of one node (Vidur's all_reduce.csv). */
export function readAllReduce(file: string, workers: number): { bytes: number[]; ms: number[] } {
  const t = readTable(file);
  const [sizeCol, workersCol, perNodeCol, collectiveCol, msCol] = [
    column(t, ['size']),
    column(t, ['num_workers']),
    column(t, ['devices_per_node']),
    column(t, ['collective']),
    column(t, ['time_stats.all_reduce.median']),
  ];
  const bySize = new Map<number, number[]>();
  for (const row of t.rows) {
    if (row.record[collectiveCol] !== 'all_reduce') continue;
    if (int(t, row, workersCol, 'num_workers', 1) !== workers || int(t, row, perNodeCol, 'devices_per_node', 1) !== workers) continue;
    const size = int(t, row, sizeCol, 'size', 1);
    let list = bySize.get(size);
    if (!list) bySize.set(size, (list = []));
    list.push(num(t, row, msCol, 'time_stats.all_reduce.median'));
  }
  if (bySize.size < 2) throw new ConfigError(`${file}: fewer than 2 message sizes for ${workers} workers on one node`);
  const bytes = [...bySize.keys()].sort((a, b) => a - b);
  return { bytes, ms: bytes.map((b) => median(bySize.get(b)!)) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The three regimes fit errors are reported for. */
export const REGIMES = ['decode', 'chunked', 'prefill'] as const;
export type Regime = (typeof REGIMES)[number];

/** One measured (or composed) iteration: its batch sums, its time, its regime. */
export interface MeasuredIteration {
  sums: BatchSums;
  ms: number;
  regime: Regime;
  /** Where it came from, for messages (file:line, or the composed rows). */
  origin: string;
}

/**
 * A plain CSV of measured iterations, one row each: prompt_tokens (P), decode_seqs (D),
 * context_tokens (sum of the batch's context after the iteration) and ms; optional prefill_seqs,
 * decode_context_tokens (the decoding requests' share of context_tokens) and attended_pairs (Ap).
 * Without them: one prefilling request when prompt_tokens > 0, whose context is its prompt tokens
 * (a whole prompt from empty context) and the rest decode context, and pairs to match.
 */
export function readIterations(file: string): { iterations: MeasuredIteration[]; split: boolean } {
  const t = readTable(file);
  const cols = {
    prompt: column(t, ['prompt_tokens']),
    decodes: column(t, ['decode_seqs']),
    context: column(t, ['context_tokens']),
    ms: column(t, ['ms', 'measured_ms']),
    prefills: column(t, ['prefill_seqs'], false),
    decodeContext: column(t, ['decode_context_tokens'], false),
    pairs: column(t, ['attended_pairs'], false),
  };
  const iterations: MeasuredIteration[] = [];
  for (const row of t.rows) {
    const prompt = int(t, row, cols.prompt, 'prompt_tokens');
    const decodes = int(t, row, cols.decodes, 'decode_seqs');
    const context = int(t, row, cols.context, 'context_tokens');
    const ms = num(t, row, cols.ms, t.header[cols.ms]);
    if (ms <= 0) throw new ConfigError(`${file}:${row.line}: field ${t.header[cols.ms]}: must be above 0`);
    if (prompt + decodes === 0) throw new ConfigError(`${file}:${row.line}: an iteration needs prompt_tokens or decode_seqs above 0`);
    const prefills = cols.prefills >= 0 ? int(t, row, cols.prefills, 'prefill_seqs') : prompt > 0 ? 1 : 0;
    if ((prefills > 0) !== (prompt > 0) || prefills > prompt) throw new ConfigError(`${file}:${row.line}: field prefill_seqs: ${prefills} requests cannot process ${prompt} prompt tokens`);
    const decodeContext = cols.decodeContext >= 0 ? int(t, row, cols.decodeContext, 'decode_context_tokens') : decodes === 0 ? 0 : Math.max(0, context - prompt);
    if (decodeContext > context) throw new ConfigError(`${file}:${row.line}: field decode_context_tokens: ${decodeContext} above context_tokens ${context}`);
    const prefillContext = context - decodeContext;
    if (prefillContext < prompt) throw new ConfigError(`${file}:${row.line}: field context_tokens: the prefilling requests' context (${prefillContext}) is below their ${prompt} prompt tokens`);
    const pairs = cols.pairs >= 0 ? int(t, row, cols.pairs, 'attended_pairs') : attendedPairs(prompt, prefillContext - prompt);
    const wholePrompt = prompt > 0 && decodes === 0 && prefillContext === prompt;
    const regime: Regime = prompt === 0 ? 'decode' : wholePrompt ? 'prefill' : 'chunked';
    iterations.push({ sums: { prompt, decodes, prefills, decodeContext, prefillContext, pairs }, ms, regime, origin: `${file}:${row.line}` });
  }
  if (iterations.length === 0) throw new ConfigError(`${file}: no iterations`);
  return { iterations, split: cols.decodeContext >= 0 };
}
