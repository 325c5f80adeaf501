// A 1 GB trace loads in bounded memory: the readers stream the file and keep 16 bytes per request
// (docs/traces.md), so peak memory stays far below the file's size. The file is generated here, in
// a temp directory, and removed afterwards; it is never committed.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'schedlab-big-'));
const path = join(work, 'big.csv');
const ROWS = 4_000_000;
// Long rows (an ignored comment column) reach 1 GB with few requests: what is measured is that the
// text is never held, not how many requests fit.
const PAD = 'x'.repeat(240);

beforeAll(() => {
  const fd = openSync(path, 'w');
  writeSync(fd, 'arrival_us,prompt_tokens,output_tokens,comment\n');
  for (let at = 0; at < ROWS; at += 10_000) {
    let chunk = '';
    for (let i = at; i < at + 10_000; i++) chunk += `${i * 250},${1 + (i % 4000)},${1 + (i % 300)},${PAD}\n`;
    writeSync(fd, chunk);
  }
  closeSync(fd);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a 1 GB trace', () => {
  it('loads every request while the process peaks far below the file size', () => {
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(1e9);
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/hostile/load-trace.ts'), path], { cwd: ROOT, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const r = JSON.parse(child.stdout);
    expect(r.requests).toBe(ROWS);
    expect(r.lastArrivalUs).toBe((ROWS - 1) * 250);
    let sum = 0;
    for (let i = 0; i < ROWS; i++) sum += 1 + (i % 4000);
    expect(r.promptSum).toBe(sum);
    // 16 bytes per request is 64 MB here; the rest is Node, tsx and one 1 MiB chunk.
    expect(r.maxRssBytes).toBeLessThan(size / 2);
    expect(r.maxRssBytes).toBeLessThan(400 * 2 ** 20);
  });
});
