// GPU engine vs CPU reference on the bundled Azure sample.
//   npx tsx bench/gpu.ts [--json] [--lanes 1,64,1024,4096] [--window 300] [--budget 90]
// Lanes are grid configurations (5 routers x 3 schedulers x replicas x rate scales x seeds) over one
// window of traces/azure-conv-2023.csv (default: the first 300 s, ~1,600 requests; --window 3600
// for the full hour). CPU times: one thread on all lanes when that fits the budget, else measured
// on a subset and extrapolated linearly (the row says so); all cores: runCpuJobs with
// os.availableParallelism() threads, same rule. GPU: all lanes when the per-lane time of the
// previous row predicts that they fit the budget, else a prefix of the grid, extrapolated linearly
// (the row says so; on a real GPU, where lanes run in parallel, that over-estimates).
import { availableParallelism } from 'node:os';
import { runCpuJobs } from '../src/sim/cpu/pool.js';
import { gridJobs as gridLanes } from '../src/sim/compare.js';
import { releaseDevice, requireDevice } from '../src/sim/gpu/device.js';
import { runGpuJobs } from '../src/sim/gpu/engine.js';
import type { Job } from '../src/sim/job.js';
import { loadTrace } from '../src/trace/readers.js';
import { windowTrace } from '../src/trace/trace.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const json = args.includes('--json');
const laneCounts = arg('--lanes', '1,64,1024,4096').split(',').map(Number);
const windowS = Number(arg('--window', '300'));
const budgetS = Number(arg('--budget', '90'));
const log = (s: string) => {
  if (!json) console.log(s);
};

const base = windowTrace(loadTrace(new URL('../traces/azure-conv-2023.csv', import.meta.url).pathname), 0, windowS);
const gridJobs = (n: number) => gridLanes(base, n);

async function timeIt<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

/** CPU seconds for all jobs: measured on growing prefixes until the budget, then extrapolated. */
async function cpuSeconds(jobs: Job[], threads: number): Promise<{ s: number; measured: number }> {
  let n = Math.min(jobs.length, Math.max(threads, 8));
  for (;;) {
    const [, s] = await timeIt(() => runCpuJobs(jobs.slice(0, n), threads));
    if (n === jobs.length) return { s, measured: n };
    // Large prefixes: a small one extrapolated 8x swung by up to 80% on these shared machines.
    if (s * (jobs.length / n) <= budgetS / 2) n = jobs.length;
    else if (s > budgetS / 8 || n * 4 > jobs.length) return { s: (s * jobs.length) / n, measured: n };
    else n *= 4;
  }
}

const gpu = await requireDevice();
const threads = availableParallelism();
log(`backend ${gpu.description}; CPU ${threads} thread(s); trace window ${windowS} s (${base.arrivalUs.length} requests) at rate scales 1, 2, 4`);
log('lanes | sim requests | GPU s | CPU 1-thread s | CPU all-cores s | configs x requests / s (GPU, CPU1, CPUall) | GPU speed-up vs 1 thread, vs all cores');
const rows: Record<string, unknown>[] = [];
let gpuPerLane = NaN;
// Warm-up: compiles every pipeline the rows use (the grid's configurations on a 1 s trace window;
// cold shader compiles are not engine time, and are reported separately).
const tWarm = performance.now();
await runGpuJobs(gridLanes(windowTrace(base, 0, 1), Math.max(...laneCounts)));
log(`pipelines compiled in ${((performance.now() - tWarm) / 1000).toFixed(1)} s (warm-up, not counted below)`);
for (const lanes of laneCounts) {
  const jobs = gridJobs(lanes);
  const requests = jobs.reduce((a, j) => a + j.trace.arrivalUs.length, 0);
  let gpuLanes = lanes;
  if (gpuPerLane * lanes > budgetS) gpuLanes = Math.min(lanes, Math.max(16, Math.floor(budgetS / gpuPerLane)));
  const [res, measured] = await timeIt(() => runGpuJobs(jobs.slice(0, gpuLanes)));
  const gpuS = (measured * lanes) / gpuLanes;
  gpuPerLane = measured / gpuLanes;
  const fallbacks = res.results.filter((r) => r.engine === 'cpu').length;
  const one = await cpuSeconds(jobs, 1);
  const all = await cpuSeconds(jobs, threads);
  const note = [
    one.measured < lanes ? `CPU 1-thread extrapolated from ${one.measured} lanes` : '',
    all.measured < lanes ? `CPU all-cores extrapolated from ${all.measured} lanes` : '',
    gpuLanes < lanes ? `GPU extrapolated from ${gpuLanes} lanes` : '',
    fallbacks > 0 ? `${fallbacks} lanes fell back to the CPU` : '',
  ]
    .filter((s) => s)
    .join('; ');
  const rate = (s: number) => (Number.isNaN(s) ? "n/a" : (requests / s).toExponential(2));
  log(
    `${lanes} | ${requests} | ${gpuS.toFixed(2)} | ${one.s.toFixed(2)} | ${all.s.toFixed(2)} | ${rate(gpuS)}, ${rate(one.s)}, ${rate(all.s)} | ` +
      `${(one.s / gpuS).toFixed(3)}x, ${(all.s / gpuS).toFixed(3)}x${note ? `  (${note})` : ''}`,
  );
  const row = { backend: gpu.description, lanes, requests, gpu_s: gpuS, note: note || undefined };
  rows.push({ ...row, cpu_s: one.s, cpu_threads: 1, ratio: one.s / gpuS });
  rows.push({ ...row, cpu_s: all.s, cpu_threads: threads, ratio: all.s / gpuS });
}
if (json) console.log(JSON.stringify(rows, null, 2));
await releaseDevice();
process.exit(0);
