// Collects accepted rows, enforces arrival order, and applies the bad-row policy: a bad row throws
// a TraceError naming file, line and field, or under skipBadRows is skipped and counted.
// Columns grow in fixed blocks of typed arrays: 16 bytes per request (+4 per prefix hash and per
// request for Mooncake offsets), twice that for a moment while finish() joins the blocks.
import { basename } from 'node:path';
import { quote } from '../printable.js';
import { FieldError, TraceError } from './errors.js';
import type { Trace } from './trace.js';

const BLOCK = 1 << 16;

type Column = Float64Array | Uint32Array;

/** An append-only column of numbers in blocks of 64Ki, joined into one typed array at the end. */
class GrowingColumn<A extends Column> {
  private blocks: A[] = [];
  private current: A;
  private used = 0;
  length = 0;

  constructor(private readonly make: (n: number) => A) {
    this.current = make(BLOCK);
  }

  push(v: number): void {
    if (this.used === BLOCK) {
      this.blocks.push(this.current);
      this.current = this.make(BLOCK);
      this.used = 0;
    }
    this.current[this.used++] = v;
    this.length++;
  }

  toArray(): A {
    const out = this.make(this.length);
    let at = 0;
    for (const b of this.blocks) {
      out.set(b, at);
      at += b.length;
    }
    out.set(this.current.subarray(0, this.used), at);
    this.blocks = [];
    return out;
  }
}

const float64 = (n: number) => new Float64Array(n);
const uint32 = (n: number) => new Uint32Array(n);

export class TraceBuilder {
  private readonly arrivals = new GrowingColumn(float64);
  private readonly prompts = new GrowingColumn(uint32);
  private readonly outputs = new GrowingColumn(uint32);
  private readonly hashes = new GrowingColumn(uint32);
  private readonly offsets = new GrowingColumn(uint32);
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
  ) {
    if (prefixBlockTokens > 0) this.offsets.push(0);
  }

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
      throw new FieldError(
        arrival.field,
        `time goes backwards: ${quote(arrival.raw)} is before ${quote(this.lastRaw)} on line ${this.lastLine}; the trace must be sorted by arrival`,
      );
    }
    this.lastArrival = arrival.us;
    this.lastLine = line;
    this.lastRaw = arrival.raw;
    this.arrivals.push(arrival.us);
    this.prompts.push(prompt);
    this.outputs.push(output);
    if (this.prefixBlockTokens > 0) {
      for (const h of hashes ?? []) this.hashes.push(h);
      if (this.hashes.length > 0xffffffff) this.fail(line, 'more than 2^32 prefix hashes in all');
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
    const arrivalUs = this.arrivals.toArray();
    const base = opts.rebase === false ? 0 : arrivalUs[0];
    for (let i = 0; i < n; i++) arrivalUs[i] -= base;
    const trace: Trace = {
      name: basename(this.path),
      source: this.path,
      arrivalUs,
      promptTokens: this.prompts.toArray(),
      outputTokens: this.outputs.toArray(),
      skippedRows: this.skipped,
    };
    if (this.prefixBlockTokens > 0) {
      trace.prefixHashes = this.hashes.toArray();
      trace.prefixOffsets = this.offsets.toArray();
      trace.prefixBlockTokens = this.prefixBlockTokens;
    }
    return trace;
  }
}
