// Trace file readers: Azure LLM inference (2023/2024), BurstGPT, Mooncake, generic CSV/JSONL.
// Formats and the bad-row policy are described in docs/traces.md.
// Files are streamed line by line (source.ts): memory grows with the requests kept, not the file.
import { extname } from 'node:path';
import { readCsvHeader, readCsvTrace, type CsvLayout } from './csv.js';
import { TraceError } from './errors.js';
import { parseArrivalUs, parseDatetimeUs, parseDecimalUs, type TimeUnit } from './fields.js';
import { firstJsonLine, readJsonlTrace, type JsonlLayout } from './jsonl.js';
import { traceHead, traceLines } from './source.js';
import { checkTraceLimits, type Trace } from './trace.js';

export { TraceError } from './errors.js';

export const TRACE_FORMATS = ['azure', 'burstgpt', 'mooncake', 'csv', 'jsonl'] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

export interface TraceColumns {
  arrival?: string;
  prompt?: string;
  output?: string;
  /** Unit of a numeric arrival column; default: from an `_s`/`_ms`/`_us` suffix of its name, else seconds. */
  arrivalUnit?: TimeUnit;
}

export interface LoadOptions {
  format?: 'auto' | TraceFormat;
  /** Skip malformed or out-of-order rows and count them in `skippedRows` instead of throwing. */
  skipBadRows?: boolean;
  /** Column (or JSON key) names for the generic `csv` and `jsonl` formats. */
  columns?: TraceColumns;
}

export const DEFAULT_COLUMNS = {
  arrival: ['arrival_s', 'arrival_ms', 'arrival_us', 'timestamp'],
  prompt: ['prompt_tokens'],
  output: ['output_tokens'],
} as const;

const LENGTH_COLUMNS = {
  prompt: ['num_prefill_tokens', 'prompt_tokens', 'input_length', 'ContextTokens', 'Request tokens'],
  output: ['num_decode_tokens', 'output_tokens', 'output_length', 'GeneratedTokens', 'Response tokens'],
};

const AZURE: CsvLayout = {
  arrival: { names: ['TIMESTAMP'], parse: parseDatetimeUs },
  prompt: ['ContextTokens'],
  output: ['GeneratedTokens'],
};

const BURSTGPT: CsvLayout = {
  arrival: { names: ['Timestamp'], parse: (field, raw) => parseDecimalUs(field, raw, 's') },
  prompt: ['Request tokens'],
  output: ['Response tokens'],
  zeroOutputNote: ' (BurstGPT logs failed requests with 0 response tokens; skipBadRows / --skip-bad-rows skips and counts them)',
};

const MOONCAKE: JsonlLayout = {
  arrival: { names: ['timestamp'], unitFor: () => 'ms' },
  prompt: ['input_length'],
  output: ['output_length'],
  hashes: { key: 'hash_ids', blockTokens: 512 },
};

function unitOf(name: string, given?: TimeUnit): TimeUnit {
  if (given) return given;
  const m = /_(s|ms|us)$/i.exec(name);
  return m ? (m[1].toLowerCase() as TimeUnit) : 's';
}

const lengthsHint = (names: string[]) =>
  names.some((n) => /^num_(prefill|decode)_tokens$/i.test(n))
    ? 'this looks like a lengths-only file (no arrival times): use loadLengths() or a synthetic spec with lengths=<file>'
    : undefined;

function genericCsv(c: TraceColumns = {}): CsvLayout {
  return {
    arrival: { names: c.arrival ? [c.arrival] : [...DEFAULT_COLUMNS.arrival], parse: (field, raw) => parseArrivalUs(field, raw, unitOf(field, c.arrivalUnit)) },
    prompt: c.prompt ? [c.prompt] : [...DEFAULT_COLUMNS.prompt],
    output: c.output ? [c.output] : [...DEFAULT_COLUMNS.output],
    hint: lengthsHint,
  };
}

function genericJsonl(c: TraceColumns = {}): JsonlLayout {
  return {
    arrival: { names: c.arrival ? [c.arrival] : [...DEFAULT_COLUMNS.arrival], unitFor: (key) => unitOf(key, c.arrivalUnit) },
    prompt: c.prompt ? [c.prompt] : [...DEFAULT_COLUMNS.prompt],
    output: c.output ? [c.output] : [...DEFAULT_COLUMNS.output],
    hint: lengthsHint,
  };
}

function isJsonLines(path: string, text: string): boolean {
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return true;
  return /^\s*\{/.test(text.replace(/^\uFEFF/, ''));
}

/** The format 'auto' picks from a file's first lines: JSON lines by extension or content, else by the CSV header. */
export function detectFormat(path: string, text: string, genericOnly = false): TraceFormat {
  if (isJsonLines(path, text)) {
    if (genericOnly) return 'jsonl';
    const first = firstJsonLine(text);
    try {
      const obj = first ? JSON.parse(first) : undefined;
      if (obj && typeof obj === 'object' && Object.hasOwn(obj, 'input_length')) return 'mooncake';
    } catch {
      // a malformed first line is reported by the reader with its line number
    }
    return 'jsonl';
  }
  if (genericOnly) return 'csv';
  const header = readCsvHeader(text).map((h) => h.toLowerCase());
  if (header.includes('timestamp') && header.includes('contexttokens')) return 'azure';
  if (header.includes('request tokens')) return 'burstgpt';
  return 'csv';
}

/** Reads a trace file into columnar form, times in integer µs from its first request. */
export function loadTrace(path: string, opts: LoadOptions = {}): Trace {
  const requested = opts.format ?? 'auto';
  if (requested !== 'auto' && !(TRACE_FORMATS as readonly string[]).includes(requested)) {
    throw new TraceError(`unknown trace format "${requested}"; valid: auto, ${TRACE_FORMATS.join(', ')}`);
  }
  if (opts.columns && requested !== 'auto' && requested !== 'csv' && requested !== 'jsonl') {
    throw new TraceError(`${path}: columns apply only to the generic csv and jsonl formats, not ${requested}`);
  }
  const head = traceHead(path);
  const format = requested === 'auto' ? detectFormat(path, head, opts.columns !== undefined) : requested;
  const skip = Boolean(opts.skipBadRows);
  const lines = traceLines(path);
  switch (format) {
    case 'azure':
      return checkTraceLimits(readCsvTrace(path, lines, AZURE, skip), path);
    case 'burstgpt':
      return checkTraceLimits(readCsvTrace(path, lines, BURSTGPT, skip), path);
    case 'mooncake':
      return checkTraceLimits(readJsonlTrace(path, lines, MOONCAKE, skip), path);
    case 'csv':
      return checkTraceLimits(readCsvTrace(path, lines, genericCsv(opts.columns), skip), path);
    case 'jsonl':
      return checkTraceLimits(readJsonlTrace(path, lines, genericJsonl(opts.columns), skip), path);
  }
}

/**
 * Request lengths only, as the `empirical` source of a synthetic trace. A lengths-only CSV (such as
 * traces/sharegpt-lengths.csv: num_prefill_tokens, num_decode_tokens) comes back as a Trace whose
 * arrivals are all 0 (not meant to be replayed); any other trace file is read with loadTrace.
 */
export function loadLengths(path: string, opts: { skipBadRows?: boolean; columns?: Pick<TraceColumns, 'prompt' | 'output'> } = {}): Trace {
  const format = detectFormat(path, traceHead(path));
  if (format !== 'csv') return loadTrace(path, { format, skipBadRows: opts.skipBadRows });
  const layout: CsvLayout = {
    arrival: null,
    prompt: opts.columns?.prompt ? [opts.columns.prompt] : LENGTH_COLUMNS.prompt,
    output: opts.columns?.output ? [opts.columns.output] : LENGTH_COLUMNS.output,
  };
  return readCsvTrace(path, traceLines(path), layout, Boolean(opts.skipBadRows));
}
