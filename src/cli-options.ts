// Command-line option parsers and the trace options every simulating command shares.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from './model/profile.js';
import { loadTrace, TRACE_FORMATS } from './trace/readers.js';
import { isSyntheticSpec, parseSyntheticSpec } from './trace/synthetic.js';
import { scaleTrace, windowTrace, type Trace } from './trace/trace.js';

export const BUNDLED_TRACE = new URL('../traces/azure-conv-2023.csv', import.meta.url).pathname;

export const int = (flag: string, min = 0) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
};
export const positive = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a positive number, got "${value}"`);
  return n;
};
export const nonNegative = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number >= 0, got "${value}"`);
  return n;
};
export const jsonObject = (flag: string) => (value: string) => {
  try {
    const v = JSON.parse(value);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError(`${flag} must be a JSON object such as '{"watermarkPermille": 20}', got "${value}"`);
  }
};

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

export function prepareTrace(o: TraceOptions): { trace: Trace; config: Record<string, unknown> } {
  const loaded = isSyntheticSpec(o.trace)
    ? parseSyntheticSpec(o.trace)
    : loadTrace(resolve(o.trace), { format: o.format as never, skipBadRows: o.skipBadRows });
  const trace = scaleTrace(windowTrace(loaded, o.start, o.duration ?? Infinity), o.rateScale);
  if (trace.arrivalUs.length === 0) throw new ConfigError(`trace ${o.trace}: the window [${o.start} s, +${o.duration ?? '∞'} s) holds no request`);
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

