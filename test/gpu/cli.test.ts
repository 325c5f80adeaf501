// The GPU-facing commands end to end: run --engine gpu, compare (random and spec), bench, and the
// no-adapter paths. Needs the WebGPU adapter (.ci/run installs Mesa); fails without one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../cli-helper.js';

const BIN = new URL('../../bin/schedlab.js', import.meta.url).pathname;

describe('GPU commands', () => {
  it('run --engine gpu gives the same metrics as the CPU engine and says which engine ran', async () => {
    const args = ['run', '--duration', '120', '--replicas', '3', '--router', 'power-of-two', '--scheduler', 'sjf', '--kv-blocks', '400', '--json'];
    const gpu = JSON.parse((await cli(...args, '--engine', 'gpu')).out);
    const cpu = JSON.parse((await cli(...args, '--engine', 'cpu')).out);
    expect(gpu.engine.engine).toBe('gpu');
    expect(gpu.engine.description).toMatch(/^(vulkan|opengles|[a-z0-9]+): /);
    expect(cpu.engine.engine).toBe('cpu');
    expect(gpu.preemptions).toBeGreaterThan(0);
    delete gpu.engine;
    delete cpu.engine;
    expect(gpu).toEqual(cpu);
  });

  it('compare --configs N --seed K ends with "N equal, 0 different" and exits 0', async () => {
    // The same configurations as the --json case below: their pipelines compile once (cold
    // compiles dominate this file on the software adapter).
    const r = await cli('compare', '--duration', '240', '--configs', '5', '--seed', '5');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.at(-1)).toBe('5 equal, 0 different');
    expect(lines.filter((l) => /^#\d+ .*: equal/.test(l))).toHaveLength(5);
    expect(r.out).toMatch(/GPU speed-up \d+\.\d+x/);
  });

  it('compare --json reports the same verdicts as the text output', async () => {
    const r = await cli('compare', '--duration', '240', '--configs', '5', '--seed', '5', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ equal: 5, different: 0, seed: 5, configs: 5 });
    expect(j.rows).toHaveLength(5);
    expect(j.ratio).toBeCloseTo(j.cpu_s / j.gpu_s, 9);
    expect(r.err).toContain('5 equal, 0 different');
  });

  it('compare <spec> compares every configuration of a sweep spec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedlab-compare-'));
    const spec = join(dir, 'spec.yaml');
    const trace = new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname;
    writeFileSync(
      spec,
      `name: tiny\ntraces:\n  t:\n    path: ${trace}\nfixed:\n  window.duration: 60\n  replicas: 2\n  profile.kvBlocks: 300\ngrid:\n  router: [least-kv, random]\n  scheduler: [vllm-fcfs, chunked-prefill]\n`,
    );
    const r = await cli('compare', spec);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').at(-1)).toBe('4 equal, 0 different');
    expect(r.out).toMatch(/^config 3 \(random x chunked-prefill/m);
  });

  it('bench --json prints the documented fields', async () => {
    const r = await cli('bench', '--duration', '60', '--lanes', '4', '--threads', '1', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ lanes: 4, cpu_threads: 1, different: 0, gpu_fallback_lanes: 0 });
    for (const f of ['backend', 'gpu_s', 'cpu_s', 'ratio']) expect(j).toHaveProperty(f);
    expect(j.ratio).toBeCloseTo(j.cpu_s / j.gpu_s, 9);
  });

  it('without an adapter: --engine gpu exits 1 saying why, auto falls back to the CPU and says so', () => {
    // EGL on X11 with no display: Dawn finds no adapter at all.
    const env = { ...process.env, EGL_PLATFORM: 'x11', DISPLAY: '' };
    const gpu = spawnSync(process.execPath, [BIN, 'run', '--engine', 'gpu', '--duration', '30'], { env, encoding: 'utf8' });
    expect(gpu.status).toBe(1);
    expect(gpu.stderr).toContain('schedlab: GPU engine unavailable: no WebGPU adapter');
    const auto = spawnSync(process.execPath, [BIN, 'run', '--engine', 'auto', '--duration', '30', '--json'], { env, encoding: 'utf8' });
    expect(auto.status).toBe(0);
    const j = JSON.parse(auto.stdout);
    expect(j.engine.engine).toBe('cpu');
    expect(j.engine.note).toContain('GPU engine not used: no WebGPU adapter');
  });
});
