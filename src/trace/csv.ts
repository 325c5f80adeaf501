// CSV traces (Azure, BurstGPT, generic) through one table reader: find the columns by header name,
// parse each row with the layout's field parsers, name the physical line in every message.
// Rows are read line by line (src/trace/source.ts). A line without a quote character is one record
// and is split on commas directly; a line with one goes to csv-parse, together with the lines that
// follow it while a quoted field is still open (quoted line breaks).
import { CsvError, parse } from 'csv-parse/sync';
import { printable, quote } from '../printable.js';
import { TraceBuilder } from './builder.js';
import { parseTokens } from './fields.js';
import { MAX_LINE_BYTES, type Line } from './source.js';
import type { Trace } from './trace.js';

export interface CsvLayout {
  /** Candidate header names, first found wins (exact, then case-insensitive); null: no arrival column (lengths only, all 0). */
  arrival: { names: string[]; parse: (field: string, raw: string) => number } | null;
  prompt: string[];
  output: string[];
  /** Appended to the "zero output tokens" message. */
  zeroOutputNote?: string;
  /** Added to a missing-column message, e.g. to point at a better format. */
  hint?: (header: string[]) => string | undefined;
}

interface CsvRecord {
  fields: string[];
  /** The physical line the record ends on. */
  line: number;
}

const QUOTED_OPTIONS = {
  trim: true,
  relax_quotes: true, // a stray quote inside a field is kept, and the row then fails as a bad field
  relax_column_count: true, // column counts are checked per row, so a short row can be skipped
  skip_empty_lines: true,
  record_delimiter: '\n', // lines arrive without their endings; a lone \r is data
} as const;

type Quoted = string[] | 'open' | 'empty';

function parseQuoted(text: string, line: number, b: TraceBuilder): Quoted {
  try {
    const records = parse(text, QUOTED_OPTIONS) as string[][];
    if (records.length === 0) return 'empty';
    if (records.length > 1) b.fail(line, 'CSV syntax: more than one record on one line');
    return records[0];
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    if (e.code === 'CSV_QUOTE_NOT_CLOSED') return 'open';
    return b.fail(line, `CSV syntax: ${printable(e.message)}`);
  }
}

/** A line without quotes: its comma-separated fields, trimmed as csv-parse's `trim` does. */
function splitPlain(text: string): string[] {
  const fields = text.split(',');
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.length > 0 && (f.charCodeAt(0) <= 32 || f.charCodeAt(f.length - 1) <= 32)) fields[i] = f.trim();
  }
  return fields;
}

/** The records of a CSV file, with the line each one ends on; blank lines are skipped. */
export function* csvRecords(lines: Iterable<Line>, b: TraceBuilder): Generator<CsvRecord> {
  let open: { lines: string[]; first: number; bytes: number } | null = null;
  let lastLine = 0;
  for (const { number, text } of lines) {
    lastLine = number;
    if (open === null) {
      if (!text.includes('"')) {
        if (text.trim() !== '') yield { fields: splitPlain(text), line: number };
        continue;
      }
      open = { lines: [text], first: number, bytes: text.length };
    } else {
      open.lines.push(text);
      open.bytes += text.length + 1;
    }
    const r = parseQuoted(open.lines.join('\n'), number, b);
    if (r === 'open') {
      if (open.bytes > MAX_LINE_BYTES) b.fail(number, `CSV syntax: Quote Not Closed: a quoted field opened on line ${open.first} runs on for more than ${MAX_LINE_BYTES >> 20} MiB`);
      continue;
    }
    open = null;
    if (r !== 'empty') yield { fields: r, line: number };
  }
  if (open !== null) b.fail(lastLine, `CSV syntax: Quote Not Closed: a quoted field opened on line ${open.first} runs to the end of the file`);
}

/** The header row of a file's first lines, for auto-detection. */
export function readCsvHeader(text: string): string[] {
  const firstLine = text.replace(/^\uFEFF/, '').split('\n').find((l) => l.trim() !== '') ?? '';
  try {
    const rows = parse(firstLine.replace(/\r$/, ''), { trim: true, relax_quotes: true, relax_column_count: true }) as string[][];
    return rows[0] ?? [];
  } catch {
    return [];
  }
}

export function findColumn(header: string[], names: string[]): number {
  for (const n of names) {
    const i = header.indexOf(n);
    if (i >= 0) return i;
  }
  for (const n of names) {
    const i = header.findIndex((h) => h.toLowerCase() === n.toLowerCase());
    if (i >= 0) return i;
  }
  return -1;
}

const showHeader = (header: string[]) => header.map((h) => printable(h)).join(', ');

export function readCsvTrace(path: string, lines: Iterable<Line>, layout: CsvLayout, skipBadRows: boolean): Trace {
  const b: TraceBuilder = new TraceBuilder(path, skipBadRows);
  const records = csvRecords(lines, b);
  const first = records.next();
  if (first.done) b.fail(null, 'empty file (no header, no data rows)');
  const header = first.value.fields;
  const headerLine = first.value.line;
  if (header.some((h) => h.includes('\r'))) {
    b.fail(headerLine, 'the header line holds a carriage return (\\r) that is not a line ending: CR-only line endings are not supported, convert them to \\n (e.g. tr "\\r" "\\n")');
  }
  const col = (names: string[]) => {
    const i = findColumn(header, names);
    if (i < 0) {
      const hint = layout.hint?.(header);
      b.fail(headerLine, `missing column ${names.map((n) => quote(n)).join(' or ')} (the header has: ${showHeader(header)})${hint ? `; ${hint}` : ''}`);
    }
    return i;
  };
  const ai = layout.arrival ? col(layout.arrival.names) : -1;
  const pi = col(layout.prompt);
  const oi = col(layout.output);
  const arrivalParse = layout.arrival?.parse;
  const expected = `expected ${header.length} fields (${printable(header.join(','))})`;
  for (const { fields, line } of records) {
    if (fields.length !== header.length) {
      const cr = fields.some((f) => f.includes('\r')) ? '; the line holds a carriage return (\\r) that is not a line ending: CR-only line endings are not supported, convert them to \\n' : '';
      b.reject(line, `${expected}, got ${fields.length}${cr}`);
      continue;
    }
    b.row(line, () => {
      const arrival = arrivalParse ? { field: header[ai], raw: fields[ai], us: arrivalParse(header[ai], fields[ai]) } : { field: '', raw: '', us: 0 };
      const prompt = parseTokens(header[pi], fields[pi], 'prompt');
      const output = parseTokens(header[oi], fields[oi], 'output', layout.zeroOutputNote);
      b.add(line, arrival, prompt, output);
    });
  }
  return b.finish();
}
