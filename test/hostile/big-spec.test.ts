// A spec of a million configurations starts running at once: configurations are built one at a
// time from their index, and checked before the first runs without being kept (it took 31 s and
// 1.9 GB before, --max-configs or not).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AZURE, BIN, ROOT } from './helpers.js';

describe('a spec of 10^6 configurations', () => {
  it('runs its first configurations with --max-configs in bounded memory', () => {
    const work = mkdtempSync(join(tmpdir(), 'schedlab-bigspec-'));
    const spec = join(work, 'million.yaml');
    writeFileSync(spec, `traces:\n  t: { path: ${AZURE} }\nfixed: { window.duration: 10 }\ngrid:\n  rateScale: { min: 1, max: 1000, count: 1000 }\n  seed: { min: 0, max: 999, count: 1000 }\n`);
    const rss = join(work, 'rss.mjs');
    writeFileSync(rss, "process.on('exit', () => process.stderr.write(`maxrss ${process.resourceUsage().maxRSS}\\n`));\n");
    const r = spawnSync(process.execPath, ['--import', rss, BIN, 'sweep', spec, '--out', join(work, 'out'), '--engine', 'cpu', '--threads', '1', '--max-configs', '5'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped after 5 new configurations, 5 done in all/);
    const manifest = JSON.parse(readFileSync(join(work, 'out', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ generated: 1_000_000, configs: 1_000_000, expected_rows: 1_000_000, rows: 5, complete: false });
    const maxRssKb = Number(/maxrss (\d+)/.exec(r.stderr)?.[1]);
    expect(maxRssKb * 1024).toBeLessThan(600 * 2 ** 20);
  });
});
