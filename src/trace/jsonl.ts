// JSON-lines traces (Mooncake, generic): one object a line; keys resolved on the first object.
import { brief, printable, quote } from '../printable.js';
import { TraceBuilder } from './builder.js';
import { FieldError } from './errors.js';
import { parseArrivalUs, parseTokens, type TimeUnit } from './fields.js';
import type { Line } from './source.js';
import type { Trace } from './trace.js';

export interface JsonlLayout {
  arrival: { names: string[]; unitFor: (key: string) => TimeUnit };
  prompt: string[];
  output: string[];
  /** Key of the prefix-block hash list (Mooncake `hash_ids`) and tokens per hash; a row without it has no prefix blocks. */
  hashes?: { key: string; blockTokens: number };
  hint?: (keys: string[]) => string | undefined;
}

function findKey(obj: Record<string, unknown>, names: string[]): string | undefined {
  for (const n of names) if (Object.hasOwn(obj, n)) return n;
  const keys = Object.keys(obj);
  for (const n of names) {
    const k = keys.find((key) => key.toLowerCase() === n.toLowerCase());
    if (k !== undefined) return k;
  }
  return undefined;
}

/** The first non-blank line of a file's first lines, for auto-detection. */
export function firstJsonLine(text: string): string | undefined {
  return text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
}

function parseHashes(field: string, raw: unknown): number[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new FieldError(field, `${brief(JSON.stringify(raw))} is not a list of integers`);
  for (let i = 0; i < raw.length; i++) {
    const h = raw[i];
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h > 0xffffffff) {
      throw new FieldError(field, `element ${i} (${brief(JSON.stringify(h) ?? String(h))}) is not an integer in [0, 2^32)`);
    }
  }
  return raw as number[];
}

export function readJsonlTrace(path: string, lines: Iterable<Line>, layout: JsonlLayout, skipBadRows: boolean): Trace {
  const b: TraceBuilder = new TraceBuilder(path, skipBadRows, layout.hashes?.blockTokens ?? 0);
  let keys: { arrival: string; prompt: string; output: string; unit: TimeUnit } | undefined;
  let rows = 0;
  for (const { number: line, text } of lines) {
    const src = text.trim();
    if (src === '') continue;
    rows++;
    let obj: unknown;
    try {
      obj = JSON.parse(src);
    } catch (e) {
      b.reject(line, `not valid JSON (${printable((e as Error).message)})`);
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      b.reject(line, 'not a JSON object');
      continue;
    }
    const row = obj as Record<string, unknown>;
    if (!keys) {
      const need = (names: string[]) => {
        const k = findKey(row, names);
        if (k === undefined) {
          const hint = layout.hint?.(Object.keys(row));
          return b.fail(line, `missing field ${names.map((n) => quote(n)).join(' or ')} (the object has: ${Object.keys(row).map((k) => printable(k)).join(', ')})${hint ? `; ${hint}` : ''}`);
        }
        return k;
      };
      const arrival = need(layout.arrival.names);
      keys = { arrival, prompt: need(layout.prompt), output: need(layout.output), unit: layout.arrival.unitFor(arrival) };
    }
    const k = keys;
    b.row(line, () => {
      const get = (key: string) => {
        if (!Object.hasOwn(row, key)) throw new FieldError(key, 'missing');
        return row[key];
      };
      const rawArrival = get(k.arrival);
      const us = parseArrivalUs(k.arrival, rawArrival, k.unit);
      const prompt = parseTokens(k.prompt, get(k.prompt), 'prompt');
      const output = parseTokens(k.output, get(k.output), 'output');
      const hashes = layout.hashes === undefined ? undefined : parseHashes(layout.hashes.key, row[layout.hashes.key]);
      b.add(line, { field: k.arrival, raw: rawArrival, us }, prompt, output, hashes);
    });
  }
  if (rows === 0) b.fail(null, 'empty file (no data rows)');
  return b.finish();
}
