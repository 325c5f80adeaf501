// Reference iterations composed from operator profiles the way Vidur composes them
// (vidur/entities/execution_time.py at 7d47513): per layer, the non-attention operators at the
// batch's token count, two all-reduces (plus 0.02 ms NCCL launch each) under tensor parallelism, the
// KV-cache save and the attention kernels, times the layers; no embedding, sampling or CPU overhead.
import { attendedPairs, emptySums, type BatchSums } from '../model/iteration.js';
import { interpolate, type DecodeAttentionRow, type MeasuredIteration, type OperatorProfile, type PrefillAttentionRow, type Regime } from './tables.js';

export interface OperatorInputs {
  operators: OperatorProfile;
  layers: number;
  tensorParallel: number;
  attention?: { prefill: PrefillAttentionRow[]; decode: DecodeAttentionRow[] };
  allReduce?: { bytes: number[]; ms: number[] };
  /** Vidur's attention_{decode,prefill}_batching_overhead_fraction: 0.1 on GQA models, else 0. */
  batchingOverhead?: number;
  /**
   * Another GPU: kernel times at t batch tokens are multiplied by to(t) / from(t), two operator
   * profiles of one model on the measured GPU and on the other (all-reduce excepted: its own file).
   */
  gpuRatio?: { from: OperatorProfile; to: OperatorProfile };
}

function ratio(inp: OperatorInputs, tokens: number): number {
  const r = inp.gpuRatio;
  return r ? interpolate(r.to.tokens, r.to.ms, tokens) / interpolate(r.from.tokens, r.from.ms, tokens) : 1;
}

/** Vidur's nccl_cpu_launch_overhead_ms. */
const NCCL_LAUNCH_MS = 0.02;

/** Milliseconds of one layer's non-attention work (operators and all-reduces) at `tokens` batch tokens. */
function layerMs(inp: OperatorInputs, tokens: number): number {
  let ms = interpolate(inp.operators.tokens, inp.operators.ms, tokens) * ratio(inp, tokens);
  if (inp.tensorParallel > 1 && inp.allReduce) {
    // Vidur sizes the all-reduce at 2 bytes per hidden element per token.
    ms += 2 * (interpolate(inp.allReduce.bytes, inp.allReduce.ms, tokens * inp.operators.hidden * 2) + NCCL_LAUNCH_MS);
  }
  return ms;
}

function overhead(inp: OperatorInputs): number {
  return inp.batchingOverhead ?? (inp.operators.heads > inp.operators.kvHeads ? 0.1 : 0);
}

function decodeSums(batch: number, contextBefore: number): BatchSums {
  return { ...emptySums(), decodes: batch, decodeContext: batch * (contextBefore + 1) };
}

function prefillSums(chunk: number, contextBefore: number): BatchSums {
  return { ...emptySums(), prompt: chunk, prefills: 1, prefillContext: contextBefore + chunk, pairs: attendedPairs(chunk, contextBefore) };
}

function merge(a: BatchSums, b: BatchSums): BatchSums {
  return {
    prompt: a.prompt + b.prompt,
    decodes: a.decodes + b.decodes,
    prefills: a.prefills + b.prefills,
    decodeContext: a.decodeContext + b.decodeContext,
    prefillContext: a.prefillContext + b.prefillContext,
    pairs: a.pairs + b.pairs,
  };
}

/**
 * With attention rows: every decode row alone (decode), every prefill row from empty context alone
 * (prefill), every prefill row after stored context alone and every prefill row beside one decode row
 * (chunked, a Sarathi-style mixed batch; decode rows taken in turn).
 */
function fromAttention(inp: OperatorInputs, prefill: PrefillAttentionRow[], decode: DecodeAttentionRow[]): MeasuredIteration[] {
  const L = inp.layers;
  const ovh = overhead(inp);
  const decodeMs = (d: DecodeAttentionRow) => d.attentionMs * (d.batch > 1 ? 1 + ovh : 1) * ratio(inp, d.batch);
  const out: MeasuredIteration[] = [];
  for (const d of decode) {
    out.push({ sums: decodeSums(d.batch, d.context), ms: L * (layerMs(inp, d.batch) + decodeMs(d)), regime: 'decode', origin: `decode ${d.batch}x${d.context}` });
  }
  prefill.forEach((p, i) => {
    const prefillMs = (p.attentionMs + (p.kvSaveMs ?? 0)) * ratio(inp, p.chunk);
    const alone: Regime = p.contextBefore === 0 ? 'prefill' : 'chunked';
    out.push({ sums: prefillSums(p.chunk, p.contextBefore), ms: L * (layerMs(inp, p.chunk) + prefillMs), regime: alone, origin: `prefill ${p.chunk}@${p.contextBefore}` });
    if (decode.length === 0) return;
    const d = decode[(i * 7) % decode.length];
    out.push({
      sums: merge(prefillSums(p.chunk, p.contextBefore), decodeSums(d.batch, d.context)),
      ms: L * (layerMs(inp, p.chunk + d.batch) + prefillMs + decodeMs(d)),
      regime: 'chunked',
      origin: `prefill ${p.chunk}@${p.contextBefore} + decode ${d.batch}x${d.context}`,
    });
  });
  return out;
}

/**
 * Without attention rows the references hold the layers' other work only: decode batches and whole
 * prompts at the profiled token counts, and chunks beside decodes, up to `maxTokens`.
 */
function fromOperators(inp: OperatorInputs, maxTokens: number): MeasuredIteration[] {
  const L = inp.layers;
  const profiled = inp.operators.tokens.filter((t) => t <= maxTokens);
  const out: MeasuredIteration[] = [];
  for (const b of profiled.filter((t) => t <= 512)) out.push({ sums: decodeSums(b, 1024), ms: L * layerMs(inp, b), regime: 'decode', origin: `decode ${b}` });
  for (const c of profiled.filter((t) => t >= 16)) out.push({ sums: prefillSums(c, 0), ms: L * layerMs(inp, c), regime: 'prefill', origin: `prefill ${c}` });
  for (const c of [128, 256, 512, 1024, 2048, 4096].filter((t) => t <= maxTokens)) {
    for (const b of [1, 16, 64, 256]) {
      for (const k of [0, 2048]) {
        out.push({ sums: merge(prefillSums(c, k), decodeSums(b, 1024)), ms: L * layerMs(inp, c + b), regime: 'chunked', origin: `prefill ${c}@${k} + decode ${b}` });
      }
    }
  }
  return out;
}

export function referenceIterations(inp: OperatorInputs, maxTokens = Infinity): MeasuredIteration[] {
  const a = inp.attention;
  return a && (a.prefill.length > 0 || a.decode.length > 0) ? fromAttention(inp, a.prefill, a.decode) : fromOperators(inp, maxTokens);
}
