// Shared by the hostile-input suite: the CLI as a separate process, directory snapshots, and the
// check that no message carries a stack trace.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'schedlab.js');
export const AZURE = join(ROOT, 'traces', 'azure-conv-2023.csv');

export interface Exit {
  code: number;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Starts `schedlab <args>` through the package's bin entry, as a user would. */
export function start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess & { exited: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? 128, signal, out, err })));
  return Object.assign(child, { exited });
}

/** The exit code (128 for a signal, which `signal` names) and output of a started process. */
export function finished(child: ReturnType<typeof start>): Promise<Exit> {
  return child.exited;
}

export async function runBin(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return finished(start(args, opts));
}

/** Every file under `dir` with the SHA-256 of its content. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[path.slice(dir.length + 1)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A user error: exit code 2, one message naming the cause, no stack trace. */
export function expectUserError(r: { code: number; err: string }, message: RegExp): void {
  expect(r.err).toMatch(message);
  expect(r.code, r.err).toBe(2);
  expectNoStack(r.err);
}

export function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .*[(:]\d+/m);
}

/** Polls `condition` until it holds or the process has exited (no time limit: the process ends either way). */
export async function until(condition: () => boolean, child?: ChildProcess): Promise<boolean> {
  for (;;) {
    if (condition()) return true;
    if (child && (child.exitCode !== null || child.signalCode !== null)) return condition();
    await new Promise((r) => setTimeout(r, 10));
  }
}
