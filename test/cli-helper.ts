import { vi } from 'vitest';
import { main } from '../src/cli.js';

/** Runs the CLI in this process and captures its exit code, stdout and stderr. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'schedlab', ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
