// Field parsers shared by the readers. Times become integer microseconds without going through a
// float, so a 7-digit Azure fraction or a seconds column is read exactly (truncated to 1 µs).
import { decimalParts } from '../numbers.js';
import { quote } from '../printable.js';
import { FieldError } from './errors.js';

export type TimeUnit = 's' | 'ms' | 'us';
const UNIT_DIGITS: Record<TimeUnit, number> = { s: 6, ms: 3, us: 0 };
const U32_MAX = 0xffffffff;

const show = quote;

/** A token count: a non-negative integer that fits in u32, then >= 1 (`what` says which count). */
export function parseTokens(field: string, raw: unknown, what: 'prompt' | 'output', zeroNote = ''): number {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^\d+$/.test(raw)) n = Number(raw);
  else n = NaN;
  if (!Number.isInteger(n) || n < 0) throw new FieldError(field, `${show(raw)} is not a non-negative integer`);
  if (n > U32_MAX) throw new FieldError(field, `${show(raw)} is too large (more than ${U32_MAX})`);
  if (n === 0) throw new FieldError(field, `zero ${what} tokens ("0"); every request needs at least 1${zeroNote}`);
  return n;
}

/** A non-negative decimal number of `unit` (the grammar of src/numbers.ts) as integer µs, truncated. */
export function parseDecimalUs(field: string, raw: unknown, unit: TimeUnit): number {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : undefined;
  const parts = text === undefined ? null : decimalParts(text);
  if (!parts) throw new FieldError(field, `${show(raw)} is not a number`);
  const digits = (parts.whole + parts.fraction).replace(/^0+/, '');
  const lead = parts.whole.length - (parts.whole + parts.fraction).length + digits.length; // digits before the point once leading zeros go
  if (digits === '') return 0;
  if (parts.negative) throw new FieldError(field, `${show(raw)} is negative`);
  const point = lead + parts.exponent + UNIT_DIGITS[unit];
  if (point <= 0) return 0;
  if (point > 16) throw new FieldError(field, `${show(raw)} is too large`);
  const us = Number(digits.slice(0, point).padEnd(point, '0'));
  if (!Number.isSafeInteger(us)) throw new FieldError(field, `${show(raw)} is too large`);
  return us;
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function looksLikeDatetime(raw: string): boolean {
  return /^\d{4}-\d{2}-\d{2}[T ]/.test(raw);
}

function notADatetime(field: string, raw: unknown): FieldError {
  return new FieldError(field, `${show(raw)} is not a timestamp like "2023-11-16 18:15:46.6805900" or "2024-05-10 00:00:00.123+00:00"`);
}

/** Digits [from, to) of `s` as a number, or -1 if any is not a digit. */
function digitsAt(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * `YYYY-MM-DD HH:MM:SS[.fffffff]` without a zone, read by position: the form of every row of the
 * Azure traces, and the bulk of a trace's load time through the regular expression. Null for any
 * other form, which parseDatetimeUs then reads with DATETIME.
 */
function plainDatetimeUs(s: string): { y: number; mo: number; d: number; h: number; mi: number; sec: number; frac: number } | null {
  if (s.length < 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return null;
  const t = s.charCodeAt(10);
  if (t !== 32 && t !== 84) return null;
  const y = digitsAt(s, 0, 4);
  const mo = digitsAt(s, 5, 7);
  const d = digitsAt(s, 8, 10);
  const h = digitsAt(s, 11, 13);
  const mi = digitsAt(s, 14, 16);
  const sec = digitsAt(s, 17, 19);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return null;
  let frac = 0;
  if (s.length > 19) {
    if (s.charCodeAt(19) !== 46 || s.length === 20) return null;
    const all = digitsAt(s, 20, s.length);
    if (all < 0) return null;
    frac = digitsAt(s, 20, Math.min(s.length, 26)) * 10 ** Math.max(0, 26 - s.length); // first 6 digits, as µs
  }
  return { y, mo, d, h, mi, sec, frac };
}

/** `YYYY-MM-DD HH:MM:SS[.f...][Z|±HH:MM]` (no zone = UTC) as integer µs since the epoch. */
export function parseDatetimeUs(field: string, raw: unknown): number {
  if (typeof raw !== 'string') throw notADatetime(field, raw);
  const plain = plainDatetimeUs(raw);
  if (plain) return toUs(field, raw, plain, 0);
  const m = DATETIME.exec(raw);
  if (!m) throw notADatetime(field, raw);
  const parts = { y: Number(m[1]), mo: Number(m[2]), d: Number(m[3]), h: Number(m[4]), mi: Number(m[5]), sec: Number(m[6]), frac: Number((m[7] ?? '').slice(0, 6).padEnd(6, '0')) };
  let offsetMin = 0;
  if (m[8] && m[8] !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(m[8])!;
    const oh = Number(z[2]);
    const om = Number(z[3] ?? 0);
    if (oh > 23 || om > 59) throw notADatetime(field, raw);
    offsetMin = (z[1] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return toUs(field, raw, parts, offsetMin);
}

function toUs(field: string, raw: string, p: { y: number; mo: number; d: number; h: number; mi: number; sec: number; frac: number }, offsetMin: number): number {
  const { y, mo, d, h, mi, sec, frac } = p;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo - 1] + (mo === 2 && leap ? 1 : 0) || h > 23 || mi > 59 || sec > 59) throw notADatetime(field, raw);
  // Date.UTC maps years 0-99 to 1900-1999; no trace predates year 100.
  const us = Date.UTC(y, mo - 1, d, h, mi, sec) * 1000 + frac - offsetMin * 60_000_000;
  // Microseconds since 1970 are exact in a double only up to the year 2255.
  if (!Number.isSafeInteger(us)) throw new FieldError(field, `${show(raw)} is too far from 1970 to hold in integer microseconds`);
  return us;
}

/** Arrival time: a datetime string, or a decimal number of `unit`. */
export function parseArrivalUs(field: string, raw: unknown, unit: TimeUnit): number {
  if (typeof raw === 'string' && looksLikeDatetime(raw)) return parseDatetimeUs(field, raw);
  return parseDecimalUs(field, raw, unit);
}
