// Trace files are read a chunk at a time and handed out a line at a time: memory holds one chunk
// plus the columns the builder keeps, never the file's text (docs/traces.md, "Memory").
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { TraceError } from './errors.js';

const CHUNK_BYTES = 1 << 20;
/** Longest line accepted; a real trace row is well under 10 KB (a 128k-token Mooncake row: ~2 KB). */
export const MAX_LINE_BYTES = 16 << 20;

export interface Line {
  /** 1-based physical line number. */
  number: number;
  /** Without its line ending (\n, or \r\n: files may mix both). */
  text: string;
}

function open(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw fileError(path, e);
  }
}

function fileError(path: string, e: unknown): TraceError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new TraceError(`${path}: no such file`);
  if (code === 'EISDIR') return new TraceError(`${path}: is a directory, not a trace file`);
  return new TraceError(`${path}: cannot read (${code ?? (e as Error).message})`);
}

function read(fd: number, path: string, buf: Buffer): number {
  try {
    return readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    throw fileError(path, e);
  }
}

/**
 * The first chunk of a trace file as text, for format detection, after the checks every reader
 * needs: the file exists and is a file, is not gzip-compressed and holds no NUL bytes.
 */
export function traceHead(path: string): string {
  const fd = open(path);
  try {
    const buf = Buffer.allocUnsafe(64 << 10);
    const n = read(fd, path, buf);
    if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) throw new TraceError(`${path}: gzip-compressed; decompress it first`);
    const nul = buf.subarray(0, n).indexOf(0);
    if (nul >= 0) throw new TraceError(`${path}: binary data (a NUL byte at offset ${nul}), not a CSV or JSON-lines trace`);
    // Cut at the last complete line so that no multi-byte character is split.
    const end = n === buf.length ? buf.subarray(0, n).lastIndexOf(0x0a) + 1 : n;
    return buf.toString('utf8', 0, end).replace(/^\uFEFF/, '');
  } finally {
    closeSync(fd);
  }
}

/** The lines of a file, read in 1 MiB chunks. A line longer than MAX_LINE_BYTES is an error. */
export function* traceLines(path: string): Generator<Line> {
  const fd = open(path);
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let carry: Buffer = Buffer.alloc(0);
    let number = 0;
    for (;;) {
      const n = read(fd, path, chunk);
      if (n === 0) break;
      const bytes = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      // A newline byte never occurs inside a multi-byte UTF-8 character, so cutting there is safe.
      const last = bytes.lastIndexOf(0x0a);
      if (last < 0) {
        if (bytes.length > MAX_LINE_BYTES) {
          throw new TraceError(`${path} line ${number + 1}: longer than ${MAX_LINE_BYTES >> 20} MiB without a line break; not a CSV or JSON-lines trace`);
        }
        carry = Buffer.from(bytes);
        continue;
      }
      const lines = bytes.toString('utf8', 0, last).split('\n');
      carry = Buffer.from(bytes.subarray(last + 1));
      for (const text of lines) yield { number: ++number, text: clean(text, number) };
    }
    if (carry.length > 0) yield { number: ++number, text: clean(carry.toString('utf8'), number) };
  } finally {
    closeSync(fd);
  }
}

function clean(text: string, number: number): string {
  const t = text.endsWith('\r') ? text.slice(0, -1) : text;
  return number === 1 && t.startsWith('\uFEFF') ? t.slice(1) : t;
}

/** SHA-256 of a file's bytes (hex), read in chunks: sweeps key their results by trace content, not path. */
export function fileDigest(path: string): string {
  const fd = open(path);
  try {
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let n = read(fd, path, chunk); n > 0; n = read(fd, path, chunk)) hash.update(chunk.subarray(0, n));
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}
