// Collects accepted rows, enforces arrival order, and applies the bad-row policy: a bad row throws
// a TraceError naming file, line and field, or under skipBadRows is skipped and counted.
import { basename } from 'node:path';
import { FieldError, TraceError } from './errors.js';
import type { Trace } from './trace.js';

export class TraceBuilder {
  private readonly arrivals: number[] = [];
  private readonly prompts: number[] = [];
  private readonly outputs: number[] = [];
  private readonly hashes: number[] = [];
  private readonly offsets: number[] = [0];
  private skipped = 0;
  private firstSkip = '';
  private lastArrival = -Infinity;
  private lastLine = 0;
  private lastRaw: unknown = '';

  constructor(
    readonly path: string,
    private readonly skipBadRows: boolean,
    /** Prompt tokens per prefix hash when the format carries hashes (Mooncake: 512), else 0. */
    private readonly prefixBlockTokens = 0,
  ) {}

  /** Fatal whatever skipBadRows says (missing column, empty file, unreadable syntax). */
  fail(line: number | null, message: string): never {
    throw new TraceError(line === null ? `${this.path}: ${message}` : `${this.path} line ${line}: ${message}`);
  }

  reject(line: number, message: string): void {
    const full = `${this.path} line ${line}: ${message}`;
    if (!this.skipBadRows) throw new TraceError(full);
    if (this.skipped === 0) this.firstSkip = full;
    this.skipped++;
  }

  /** Runs one row's parser; a FieldError becomes a rejected row, anything else propagates. */
  row(line: number, parse: () => void): void {
    try {
      parse();
    } catch (e) {
      if (e instanceof FieldError) this.reject(line, e.message);
      else throw e;
    }
  }

  /** Adds a parsed row; throws FieldError (from inside `row`) if time goes backwards. */
  add(line: number, arrival: { field: string; raw: unknown; us: number }, prompt: number, output: number, hashes?: readonly number[]): void {
    if (arrival.us < this.lastArrival) {
      const show = (raw: unknown) => JSON.stringify(String(raw));
      throw new FieldError(
        arrival.field,
        `time goes backwards: ${show(arrival.raw)} is before ${show(this.lastRaw)} on line ${this.lastLine}; the trace must be sorted by arrival`,
      );
    }
    this.lastArrival = arrival.us;
    this.lastLine = line;
    this.lastRaw = arrival.raw;
    const arrivalUs = arrival.us;
    this.arrivals.push(arrivalUs);
    this.prompts.push(prompt);
    this.outputs.push(output);
    if (this.prefixBlockTokens > 0) {
      for (const h of hashes ?? []) this.hashes.push(h);
      this.offsets.push(this.hashes.length);
    }
  }

  /** The trace, re-based so its first request arrives at 0. */
  finish(opts: { rebase?: boolean } = {}): Trace {
    const n = this.arrivals.length;
    if (n === 0) {
      if (this.skipped === 0) this.fail(null, 'no data rows');
      this.fail(null, `no valid rows: all ${this.skipped} data rows were bad (first: ${this.firstSkip})`);
    }
    const base = opts.rebase === false ? 0 : this.arrivals[0];
    const arrivalUs = new Float64Array(n);
    for (let i = 0; i < n; i++) arrivalUs[i] = this.arrivals[i] - base;
    const trace: Trace = {
      name: basename(this.path),
      source: this.path,
      arrivalUs,
      promptTokens: Uint32Array.from(this.prompts),
      outputTokens: Uint32Array.from(this.outputs),
      skippedRows: this.skipped,
    };
    if (this.prefixBlockTokens > 0) {
      trace.prefixHashes = Uint32Array.from(this.hashes);
      trace.prefixOffsets = Uint32Array.from(this.offsets);
      trace.prefixBlockTokens = this.prefixBlockTokens;
    }
    return trace;
  }
}
