// Command-line option parsers and the trace options every simulating command shares. Numbers use
// the one grammar of src/numbers.ts; a value outside its bounds is an error naming the option.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from './model/profile.js';
import { parseDecimal } from './numbers.js';
import { packagePath } from './package-root.js';
import { quote } from './printable.js';
import { MAX_THREADS } from './sim/cpu/pool.js';
import { loadTrace, TRACE_FORMATS } from './trace/readers.js';
import { isSyntheticSpec, parseSyntheticSpec } from './trace/synthetic.js';
import { scaleTrace, windowTrace, type Trace } from './trace/trace.js';

export const BUNDLED_TRACE = packagePath('traces/azure-conv-2023.csv');

function bad(flag: string, what: string, value: string): never {
  throw new InvalidArgumentError(`${flag} must be ${what}, got ${quote(value)}`);
}

/** An integer option in [min, max]; `why` says where the upper bound comes from. */
export const int =
  (flag: string, min = 0, max = Number.MAX_SAFE_INTEGER, why = '') =>
  (value: string) => {
    const n = parseDecimal(value);
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}${why ? ` (${why})` : ''}`;
    if (n === undefined || !Number.isSafeInteger(n) || n < min || n > max) bad(flag, range, value);
    return n;
  };

/** --threads: CPU worker threads. */
export const threadsOption = (flag: string) => int(flag, 1, MAX_THREADS, 'worker threads');

export const positive = (flag: string) => (value: string) => {
  const n = parseDecimal(value);
  if (n === undefined || !(n > 0)) bad(flag, 'a positive decimal number', value);
  return n;
};

export const nonNegative = (flag: string) => (value: string) => {
  const n = parseDecimal(value);
  if (n === undefined || !(n >= 0)) bad(flag, 'a decimal number >= 0', value);
  return n;
};

export const jsonObject = (flag: string) => (value: string) => {
  try {
    const v = JSON.parse(value);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    return bad(flag, `a JSON object such as '{"watermarkPermille": 20}'`, value);
  }
};

export const engineOption = (defaultEngine: 'cpu' | 'auto') =>
  new Option('--engine <engine>', 'cpu reference, gpu engine, or auto (gpu on a hardware adapter, else cpu)').choices(['cpu', 'gpu', 'auto']).default(defaultEngine);

export interface TraceOptions {
  trace: string;
  format: string;
  start: number;
  duration?: number;
  rateScale: number;
  skipBadRows?: boolean;
}

export function addTraceOptions(cmd: Command, defaultTrace?: string): Command {
  return cmd
    .option('--trace <file>', 'trace file (CSV or JSONL), or a synthetic spec such as poisson:rate=5,duration=600,seed=1', defaultTrace)
    .addOption(new Option('--format <format>', 'trace format').choices(['auto', ...TRACE_FORMATS]).default('auto'))
    .option('--start <seconds>', 'window start in original trace time', nonNegative('--start'), 0)
    .option('--duration <seconds>', 'window length in original trace time (default: to the end)', positive('--duration'))
    .option('--rate-scale <x>', 'multiply the arrival rate (2 = twice the load)', positive('--rate-scale'), 1)
    .option('--skip-bad-rows', 'skip malformed rows and count them instead of failing');
}

/** Loads, windows and rate-scales a trace as the trace options say; each step checks the trace limits. */
export function prepareTrace(o: TraceOptions): { trace: Trace; config: Record<string, unknown> } {
  const loaded = isSyntheticSpec(o.trace)
    ? parseSyntheticSpec(o.trace)
    : loadTrace(resolve(o.trace), { format: o.format as never, skipBadRows: o.skipBadRows });
  const trace = scaleTrace(windowTrace(loaded, o.start, o.duration ?? Infinity), o.rateScale);
  if (trace.arrivalUs.length === 0) throw new ConfigError(`trace ${quote(o.trace)}: the window [${o.start} s, +${o.duration ?? '∞'} s) holds no request`);
  return {
    trace,
    config: {
      path: o.trace,
      format: o.format,
      start_s: o.start,
      duration_s: o.duration ?? null,
      rate_scale: o.rateScale,
      skip_bad_rows: Boolean(o.skipBadRows),
      requests: trace.arrivalUs.length,
      skipped_rows: loaded.skippedRows,
    },
  };
}
