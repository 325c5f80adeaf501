// One writer per result directory: `sweep.lock` holds the owner's host, pid and start time, and is
// created with O_EXCL, so a second `schedlab sweep` (or merge) into the same --out refuses instead
// of racing. The owner refreshes the file's mtime every few seconds. A lock is stale, and taken
// over, when its process is gone (same host) or it has not been refreshed for STALE_MS (another
// host, e.g. a pre-empted Kubernetes pod whose retry runs elsewhere).
import { closeSync, linkSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../model/profile.js';
import { printable } from '../printable.js';
import { FILES } from './results.js';

const REFRESH_MS = 5_000;
export const STALE_MS = 60_000;

interface Owner {
  host: string;
  pid: number;
  started: string;
  command: string;
}

export interface DirectoryLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): { owner: Owner | null; ageMs: number } | null {
  try {
    const ageMs = Date.now() - statSync(path).mtimeMs;
    try {
      return { owner: JSON.parse(readFileSync(path, 'utf8')) as Owner, ageMs };
    } catch {
      return { owner: null, ageMs }; // being written, or damaged
    }
  } catch {
    return null; // gone meanwhile
  }
}

/** Takes the lock of `dir` (which must exist) for `command`, or throws a ConfigError naming the holder. */
export function lockDirectory(dir: string, command: string): DirectoryLock {
  const path = join(dir, FILES.lock);
  const me: Owner = { host: hostname(), pid: process.pid, started: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      createWithContent(path, JSON.stringify(me) + '\n');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readOwner(path);
      if (held === null) continue;
      const { owner, ageMs } = held;
      const sameHost = owner?.host === me.host;
      const stale = owner ? (sameHost ? !alive(owner.pid) : ageMs > STALE_MS) : ageMs > STALE_MS;
      if (!stale) {
        const who = owner ? `${printable(owner.command)} (pid ${owner.pid} on ${printable(owner.host)}, since ${owner.started})` : 'another process';
        const hint = sameHost
          ? 'wait for it to finish or stop it'
          : `if that machine is gone, the lock is taken over once it is ${STALE_MS / 1000} s old (now ${Math.round(ageMs / 1000)} s), or delete ${path}`;
        throw new ConfigError(`${dir} is in use by ${who}; ${hint}`);
      }
      rmSync(path, { force: true });
      continue;
    }
    return hold(path, me);
  }
  throw new ConfigError(`${dir}: could not take ${FILES.lock} (other processes keep taking it)`);
}

/**
 * Creates `path` holding `text`, or throws EEXIST: written to a file of its own, then hard-linked
 * into place, so that a process killed at any point never leaves an empty lock (which, its owner
 * unknown, would be taken over only once STALE_MS old). Where hard links are not supported, an
 * exclusive create and a write.
 */
function createWithContent(path: string, text: string): void {
  const own = `${path}.${process.pid}`;
  writeFileSync(own, text);
  try {
    linkSync(own, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    const fd = openSync(path, 'wx');
    writeSync(fd, text);
    closeSync(fd);
  } finally {
    rmSync(own, { force: true });
  }
}

function hold(path: string, me: Owner): DirectoryLock {
  const mine = () => {
    const held = readOwner(path);
    return held?.owner?.pid === me.pid && held.owner.host === me.host;
  };
  const refresh = setInterval(() => {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // removed under us: release() will find nothing to remove
    }
  }, REFRESH_MS);
  refresh.unref();
  const onExit = () => {
    if (mine()) rmSync(path, { force: true });
  };
  process.on('exit', onExit);
  return {
    release() {
      clearInterval(refresh);
      process.off('exit', onExit);
      onExit();
    },
  };
}
