// CPU reference speed: the bundled one-hour Azure conversation trace on 8 replicas, every
// router x scheduler pair, with fast-forward against without it (the per-iteration baseline),
// measured side by side in this run. Usage: npm run bench [-- --rate-scale 4]
import { parseArgs } from 'node:util';
import { resolveProfile, DEFAULT_PROFILE } from '../src/model/profile.js';
import { SCHEDULER_NAMES } from '../src/policy/engine/index.js';
import { ROUTER_NAMES } from '../src/policy/router/index.js';
import { simulate } from '../src/sim/cpu/simulator.js';
import { resolveLane } from '../src/sim/lane.js';
import { renderTable } from '../src/report/table.js';
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
