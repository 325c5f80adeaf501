// CPU reference speed: the bundled one-hour Azure conversation trace on 8 replicas, every
// router x scheduler pair, with fast-forward against without it (the per-iteration baseline),
// measured side by side in this run; then a CPU sweep on all threads against one thread, and the
// start-up of `schedlab run` through the bin entry. Usage: npm run bench [-- --rate-scale 4]
// (npm run bench builds dist/ first, so the start-up measured is the built CLI's.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveProfile, DEFAULT_PROFILE } from '../src/model/profile.js';
import { SCHEDULER_NAMES } from '../src/policy/engine/index.js';
import { ROUTER_NAMES } from '../src/policy/router/index.js';
import { simulate } from '../src/sim/cpu/simulator.js';
import { resolveLane } from '../src/sim/lane.js';
import { renderTable } from '../src/report/table.js';
import { defaultThreads } from '../src/sim/cpu/pool.js';
import { runSweep } from '../src/sweep/sweep.js';
import { loadTrace } from '../src/trace/readers.js';
import { scaleTrace } from '../src/trace/trace.js';

const { values } = parseArgs({ options: { 'rate-scale': { type: 'string', default: '1' }, replicas: { type: 'string', default: '8' } } });
const rateScale = Number(values['rate-scale']);
const replicas = Number(values.replicas);
const trace = scaleTrace(loadTrace(new URL('../traces/azure-conv-2023.csv', import.meta.url).pathname), rateScale);
const n = trace.arrivalUs.length;
const spanS = trace.arrivalUs[n - 1] / 1e6;

const time = (f: () => void) => {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
};

console.log(`trace: ${n} requests over ${(spanS / 60).toFixed(1)} min (rate scale ${rateScale}), ${replicas} replicas of ${DEFAULT_PROFILE}, one core\n`);
const rows: string[][] = [];
let worst = 0;
for (const router of ROUTER_NAMES) {
  for (const scheduler of SCHEDULER_NAMES) {
    const lane = resolveLane({
      replicas,
      router: { name: router },
      scheduler: { name: scheduler },
      profile: resolveProfile(DEFAULT_PROFILE, scheduler === 'chunked-prefill' ? { maxBatchedTokens: 2048 } : {}),
      seed: 0,
    });
    simulate(trace, lane); // warm-up: JIT
    const fast = time(() => simulate(trace, lane));
    const slow = time(() => simulate(trace, lane, { fastForward: false }));
    worst = Math.max(worst, fast);
    rows.push([router, scheduler, fast.toFixed(3), (n / fast).toFixed(0), slow.toFixed(3), (slow / fast).toFixed(1) + 'x']);
  }
}
console.log(renderTable(['router', 'scheduler', 'wall s', 'requests/s', 'no fast-forward s', 'fast-forward speed-up'], rows));
console.log(`\nslowest pair: ${worst.toFixed(3)} s for a ${(spanS / 60).toFixed(1)}-minute trace (target: under 5 s)`);

// ---- a sweep on one pool: all threads against one ----
const sweepSpec = new URL('../sweeps/policies-vs-load.yaml', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'schedlab-bench-'));
let runNo = 0;
const sweepSeconds = async (threads: number) => {
  const t = performance.now();
  const r = await runSweep(sweepSpec, { out: join(scratch, `run-${runNo++}`), engine: 'cpu', threads, progress: 'none' });
  if (!r.complete) throw new Error('bench sweep did not complete');
  return (performance.now() - t) / 1000;
};
const all = defaultThreads();
// Interleaved, best of three each: other load on the machine hits both sides alike.
const times = { one: [] as number[], many: [] as number[] };
for (let k = 0; k < 3; k++) {
  times.one.push(await sweepSeconds(1));
  times.many.push(await sweepSeconds(all));
}
const one = Math.min(...times.one);
const many = Math.min(...times.many);
console.log(`\nsweep ${sweepSpec.split('/').slice(-2).join('/')} (90 configurations), CPU reference on one worker pool, best of 3:`);
console.log(`  1 thread ${one.toFixed(2)} s, ${all} threads ${many.toFixed(2)} s: ${(one / many).toFixed(2)}x (${many < one ? 'all threads beat one' : 'all threads do NOT beat one'}; load average ${loadavg()[0].toFixed(1)} on ${all} cores)`);

// ---- start-up: the whole process through the bin entry ----
const bin = new URL('../bin/schedlab.js', import.meta.url).pathname;
const wall = (args: string[]) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return (performance.now() - t) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runArgs = [bin, 'run', '--replicas', '8', '--json'];
wall(runArgs); // page cache
const starts = [0, 1, 2, 3, 4, 5, 6].map(() => wall(runArgs));
const bare = median([0, 1, 2, 3, 4].map(() => wall(['-e', '0'])));
console.log(
  `\nschedlab run of the one-hour trace on 8 replicas, whole process through bin/schedlab.js: median ${median(starts).toFixed(3)} s, best ${Math.min(...starts).toFixed(3)} s of 7 ` +
    `(goal: under 0.5 s; node -e 0 takes ${bare.toFixed(3)} s here; load average ${loadavg()[0].toFixed(1)})`,
);
rmSync(scratch, { recursive: true, force: true });
