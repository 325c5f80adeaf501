// CSV traces (Azure, BurstGPT, generic) through one table reader: find the columns by header name,
// parse each row with the layout's field parsers, keep csv-parse's line numbers for messages.
import { CsvError, parse } from 'csv-parse/sync';
import { TraceBuilder } from './builder.js';
import { parseTokens } from './fields.js';
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

interface Row {
  record: string[];
  info: { lines: number };
}

const CSV_OPTIONS = {
  bom: true,
  trim: true,
  relax_quotes: true, // a stray quote then fails as a bad field, not as a lost stretch of file
  relax_column_count: true, // column counts are checked per row, so a short row can be skipped
  skip_empty_lines: true,
} as const;

export function readCsvRows(text: string, builder: TraceBuilder): Row[] {
  try {
    // Without quotes every record is one non-blank line, so line numbers are found by counting
    // lines; csv-parse's per-record info objects would double the parse time.
    if (!text.includes('"')) {
      const records = parse(text, CSV_OPTIONS) as string[][];
      const rows: Row[] = [];
      const lines = text.split('\n');
      for (let i = 0; i < lines.length && rows.length < records.length; i++) {
        if (lines[i].trim() !== '') rows.push({ record: records[rows.length], info: { lines: i + 1 } });
      }
      if (rows.length === records.length) return rows;
    }
    return parse(text, { ...CSV_OPTIONS, info: true }) as unknown as Row[];
  } catch (e) {
    if (e instanceof CsvError) builder.fail(typeof e.lines === 'number' ? e.lines : null, `CSV syntax: ${e.message}`);
    throw e;
  }
}

/** The header row alone, for auto-detection. */
export function readCsvHeader(text: string): string[] {
  const firstLine = text.replace(/^\uFEFF/, '').split('\n').find((l) => l.trim() !== '') ?? '';
  try {
    const rows = parse(firstLine, { trim: true, relax_quotes: true, relax_column_count: true }) as string[][];
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

export function readCsvTrace(path: string, text: string, layout: CsvLayout, skipBadRows: boolean): Trace {
  const b: TraceBuilder = new TraceBuilder(path, skipBadRows);
  const rows = readCsvRows(text, b);
  if (rows.length === 0) b.fail(null, 'empty file (no header, no data rows)');
  const header = rows[0].record;
  const headerLine = rows[0].info.lines;
  const col = (names: string[]) => {
    const i = findColumn(header, names);
    if (i < 0) {
      const hint = layout.hint?.(header);
      b.fail(
        headerLine,
        `missing column ${names.map((n) => JSON.stringify(n)).join(' or ')} (the header has: ${header.join(', ')})${hint ? `; ${hint}` : ''}`,
      );
    }
    return i;
  };
  const ai = layout.arrival ? col(layout.arrival.names) : -1;
  const pi = col(layout.prompt);
  const oi = col(layout.output);
  const arrivalParse = layout.arrival?.parse;
  for (let r = 1; r < rows.length; r++) {
    const { record, info } = rows[r];
    const line = info.lines;
    if (record.length !== header.length) {
      b.reject(line, `expected ${header.length} fields (${header.join(',')}), got ${record.length}`);
      continue;
    }
    b.row(line, () => {
      const arrival = arrivalParse ? { field: header[ai], raw: record[ai], us: arrivalParse(header[ai], record[ai]) } : { field: '', raw: '', us: 0 };
      const prompt = parseTokens(header[pi], record[pi], 'prompt');
      const output = parseTokens(header[oi], record[oi], 'output', layout.zeroOutputNote);
      b.add(line, arrival, prompt, output);
    });
  }
  return b.finish();
}
