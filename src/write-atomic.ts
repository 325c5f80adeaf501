// Result files are written completely or not at all: a temp file beside the target, then rename;
// the temp file is removed on every failure. Commands check their output paths before any work
// (assertWritableFile, assertOutputDir), so a bad path costs no simulation.
import { accessSync, closeSync, constants, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './model/profile.js';
import { quote } from './printable.js';

/** The temp file a write to `path` goes through (removed or renamed before the write returns). */
export function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/** Errors about a path the user chose: a ConfigError (exit 2) that names the path and the cause. */
const USER_PATH_ERRORS: Record<string, string> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'the name is too long',
};

export function outputError(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const cause = USER_PATH_ERRORS[code];
  return cause ? new ConfigError(`cannot write ${quote(path)}: ${cause}`) : (e as Error);
}

export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw outputError(path, e);
  }
}

/** Like writeAtomic, for output produced piece by piece (never held whole in memory). */
export function writeAtomicChunks(path: string, chunks: Iterable<string>): void {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const chunk of chunks) writeSync(fd, chunk);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw outputError(path, e);
  }
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function assertWritableDir(dir: string, what: string, path: string): void {
  const s = statOrNull(dir);
  if (!s) throw new ConfigError(`${what} ${quote(path)}: directory ${quote(dir)} does not exist`);
  if (!s.isDirectory()) throw new ConfigError(`${what} ${quote(path)}: ${quote(dir)} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new ConfigError(`${what} ${quote(path)}: directory ${quote(dir)} is not writable`);
  }
}

/** Checks that a file can be written at `path` (`what` names the option in the error). */
export function assertWritableFile(path: string, what: string): void {
  const full = resolve(path);
  const s = statOrNull(full);
  if (s?.isDirectory()) throw new ConfigError(`${what} ${quote(path)} is a directory; give a file name`);
  assertWritableDir(dirname(full), what, path);
}

/** Checks that `path` is a directory or can be created as one (its nearest existing ancestor is a writable directory). */
export function assertOutputDir(path: string, what: string): void {
  let at = resolve(path);
  const s = statOrNull(at);
  if (s) {
    if (!s.isDirectory()) throw new ConfigError(`${what} ${quote(path)} is a file, not a directory`);
    assertWritableDir(at, what, path);
    return;
  }
  for (;;) {
    const parent = dirname(at);
    const ps = statOrNull(parent);
    if (ps) {
      if (!ps.isDirectory()) throw new ConfigError(`${what} ${quote(path)}: ${quote(parent)} is a file, not a directory`);
      assertWritableDir(parent, what, path);
      return;
    }
    if (parent === at) return;
    at = parent;
  }
}
