// A sweep interrupted by SIGINT and SIGKILL at random points, then resumed until it completes:
// every configuration appears exactly once and the result files equal an uninterrupted run's.
// Two processes sweeping into one --out: the second refuses while the first holds the directory.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAllRows } from '../../src/sweep/database.js';
import { runSweep } from '../../src/sweep/sweep.js';
import { AZURE, expectNoStack, expectUserError, finished, start, until } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'schedlab-interrupt-'));
const spec = join(work, 'spec.yaml');
const reference = join(work, 'reference');
const CONFIGS = 24;

beforeAll(async () => {
  writeFileSync(
    spec,
    `traces:\n  t: { path: ${AZURE} }\nfixed: { window.duration: 60, profile.kvBlocks: 3000 }\n` +
      `grid:\n  router: [round-robin, least-kv, power-of-two]\n  scheduler: [vllm-fcfs, sjf]\n  rateScale: [1, 2, 4, 8]\n`,
  );
  await runSweep(spec, { out: reference, engine: 'cpu', threads: 2, progress: 'none' });
});

const journalLines = (dir: string) => (existsSync(join(dir, 'journal.jsonl')) ? readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean).length : 0);

/** A small seeded generator, so a failing sequence of kills can be replayed from the seed in the test name. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32);
}

describe('interrupted sweeps', () => {
  it.each([1, 2])('SIGINT and SIGKILL at random points, then --resume, give the uninterrupted result set (seed %i)', async (seed) => {
    const rand = random(seed);
    const dir = join(work, `interrupted-${seed}`);
    let code = -1;
    const sent = { SIGINT: 0, SIGKILL: 0 };
    for (let round = 0; code !== 0; round++) {
      expect(round, 'the sweep should finish after a bounded number of interruptions').toBeLessThan(60);
      const child = start(['sweep', spec, '--out', dir, '--engine', 'cpu', '--threads', '2', '--resume']);
      // Kill once the journal has grown by 0-3 lines (0: possibly while it starts or writes the result files).
      const target = journalLines(dir) + Math.floor(rand() * 4);
      await until(() => journalLines(dir) >= target, child);
      const signal = rand() < 0.5 ? 'SIGINT' : 'SIGKILL';
      if (child.exitCode === null && child.kill(signal)) sent[signal]++;
      const r = await finished(child);
      code = r.code;
      if (r.signal === null && code !== 0) {
        expect(code, r.err).toBe(130); // SIGINT: the sweep's own message, no stack
        expect(r.err).toMatch(/sweep interrupted \(SIGINT\): \d+\/24 configurations are saved/);
        expectNoStack(r.err);
      }
    }
    expect(sent.SIGINT, 'interrupted by SIGINT at least once').toBeGreaterThan(0);
    expect(sent.SIGKILL, 'killed at least once').toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'results.csv'), 'utf8')).toBe(readFileSync(join(reference, 'results.csv'), 'utf8'));
    const { rows } = await readAllRows(dir);
    expect(rows.map((r) => r.config_index)).toEqual([...Array(CONFIGS).keys()]);
    expect(rows).toEqual((await readAllRows(reference)).rows);
    expect(readdirSync(dir).sort()).toEqual(['journal.jsonl', 'manifest.json', 'results.csv', 'results.parquet']);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toMatchObject({ complete: true, rows: CONFIGS });
  });

  it('a second sweep into the same --out refuses while the first runs; the first then finishes normally', async () => {
    const dir = join(work, 'shared');
    const first = start(['sweep', spec, '--out', dir, '--engine', 'cpu', '--threads', '1']);
    await until(() => existsSync(join(dir, 'sweep.lock')), first);
    first.kill('SIGSTOP'); // holds the directory for as long as the second one needs
    try {
      for (const args of [[], ['--resume']]) {
        const second = await finished(start(['sweep', spec, '--out', dir, '--engine', 'cpu', ...args]));
        expectUserError(second, new RegExp(`${dir} is in use by schedlab sweep .*\\(pid ${first.pid} on .*\\); wait for it to finish or stop it`));
      }
    } finally {
      first.kill('SIGCONT');
    }
    const r = await finished(first);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dir, 'results.csv'), 'utf8')).toBe(readFileSync(join(reference, 'results.csv'), 'utf8'));
    expect(existsSync(join(dir, 'sweep.lock'))).toBe(false);
  });

  it('a lock left by a killed process is taken over', async () => {
    const dir = join(work, 'stale');
    const child = start(['sweep', spec, '--out', dir, '--engine', 'cpu', '--threads', '1']);
    await until(() => existsSync(join(dir, 'sweep.lock')), child);
    child.kill('SIGKILL');
    await finished(child);
    expect(existsSync(join(dir, 'sweep.lock'))).toBe(true);
    const r = await finished(start(['sweep', spec, '--out', dir, '--engine', 'cpu', '--threads', '2', '--resume']));
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dir, 'results.csv'), 'utf8')).toBe(readFileSync(join(reference, 'results.csv'), 'utf8'));
  });
});
