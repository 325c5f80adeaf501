// The commander wiring of the sweep commands (src/cli/*.ts), through the CLI's main().
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli as run } from '../cli-helper.js';

const root = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'schedlab-cmd-'));
const spec = join(work, 'spec.json');
writeFileSync(
  spec,
  JSON.stringify({
    traces: { azure: { path: join(root, 'traces/azure-conv-2023.csv'), format: 'azure' } },
    fixed: { 'window.duration': 10 },
    grid: { replicas: [1, 2], scheduler: ['vllm-fcfs', 'sjf'] },
  }),
);

async function cli(...args: string[]): Promise<string> {
  const r = await run(...args);
  if (r.code !== 0) throw Object.assign(new Error(r.err), { code: r.code });
  return r.out;
}

describe('sweep commands', () => {
  it('sweep (with --max-configs then --resume), query --json, best, report', async () => {
    const dir = join(work, 'out');
    expect(await cli('sweep', spec, '--out', dir, '--engine', 'cpu', '--threads', '1', '--max-configs', '3')).toMatch(/stopped after 3 new configurations/);
    expect(await cli('sweep', spec, '--out', dir, '--engine', 'cpu', '--threads', '1', '--resume')).toMatch(/4 configurations \(1 run, 3 from the journal\)/);
    const rows = JSON.parse(await cli('query', dir, 'SELECT config_index, replicas, scheduler FROM results ORDER BY config_index', '--json'));
    expect(rows).toEqual([
      { config_index: 0, replicas: 1, scheduler: 'vllm-fcfs' },
      { config_index: 1, replicas: 1, scheduler: 'sjf' },
      { config_index: 2, replicas: 2, scheduler: 'vllm-fcfs' },
      { config_index: 3, replicas: 2, scheduler: 'sjf' },
    ]);
    const best = JSON.parse(await cli('best', dir, '--objective', 'replicas:max', '--constraint', 'requests > 0', '--constraint', "scheduler = 'sjf'", '--json'));
    expect(best.map((r: { config_index: number }) => r.config_index)).toEqual([3, 1]);
    expect(await cli('best', dir, '--pareto', 'replicas:min,ttft_ms_p99')).toMatch(/4 of 4 configurations meet the constraints/);
    expect(await cli('report', dir, '--out', join(work, 'r.html'))).toContain('r.html');
  });

  it('bad input exits 2 with the reason', async () => {
    await expect(cli('sweep', join(work, 'missing.yaml'), '--out', join(work, 'x'))).rejects.toMatchObject({ code: 2, message: expect.stringMatching(/missing\.yaml: no such file/) });
    await expect(cli('sweep', spec, '--out', join(work, 'y'), '--shard', '3/3')).rejects.toMatchObject({ code: 2, message: expect.stringMatching(/--shard 3\/3: need 0 <= i < n/) });
    await expect(cli('query', join(work, 'nowhere'), 'SELECT 1')).rejects.toMatchObject({ code: 2, message: expect.stringMatching(/not a sweep result directory/) });
  });
});
