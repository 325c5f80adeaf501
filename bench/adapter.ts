// What the WebGPU adapter charges for the operations the engine is made of, and how much lane
// divergence within a workgroup costs it. Guides shader work on a new adapter (docs/benchmarks.md).
//   npx tsx bench/adapter.ts [--json]
// Micro-kernels: 4,096 invocations, each 8,000 loop iterations of one operation on a random index;
// figures are nanoseconds per invocation and operation, best of three dispatches, minus the loop.
// Divergence: 512 lanes made of 64 benchmark-grid configurations, each 8 times, run once with the
// copies side by side (every workgroup of 8 runs one configuration) and once spread over workgroups.
import { gridJobs } from '../src/sim/compare.js';
import { releaseDevice, requireDevice } from '../src/sim/gpu/device.js';
import { runGpuJobs } from '../src/sim/gpu/engine.js';
import type { Job } from '../src/sim/job.js';
import { loadTrace } from '../src/trace/readers.js';
import { windowTrace } from '../src/trace/trace.js';

const json = process.argv.includes('--json');
const { device, description } = await requireDevice();
const INVOCATIONS = 4096;
const WORKGROUP = 8;
const ITERATIONS = 8000; // under llvmpipe's 65,535 loop iterations per SIMD group
const WORDS = 512; // per invocation; 8 x 512 words = the 16 KiB workgroup-memory default

const bindings = `@group(0) @binding(0) var<storage, read_write> buf: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;`;
const kernel = (prelude: string, setup: string, body: string) => `${bindings}
${prelude}
@compute @workgroup_size(${WORKGROUP}) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  ${setup}
  var x = g.x * 2654435761u + 1u;
  var acc = 0u;
  for (var i = 0u; i < ${ITERATIONS}u; i++) {
    x = x * 1664525u + 1013904223u;
    let a = (x >> 8u) & ${WORDS - 1}u;
    ${body}
  }
  out[g.x] = acc;
}`;
// Each body does one load and one store (two accesses) except the arithmetic ones (one operation).
const kernels: { name: string; ops: number; code: string }[] = [
  { name: 'loop only', ops: 1, code: kernel('', '', 'acc += a ^ i;') },
  { name: 'storage load+store', ops: 2, code: kernel('', `let base = g.x * ${WORDS}u;`, 'let v = buf[base + a]; acc += v; buf[base + ((a * 7u) & ' + `${WORDS - 1}u)] = v + i;`) },
  { name: 'private array load+store', ops: 2, code: kernel('', `var arr: array<u32, ${WORDS}>;`, `let v = arr[a]; acc += v; arr[(a * 7u) & ${WORDS - 1}u] = v + i;`) },
  { name: 'workgroup load+store', ops: 2, code: kernel(`var<workgroup> wg: array<u32, ${WORDS * WORKGROUP}>;`, `let base = l * ${WORDS}u;`, `let v = wg[base + a]; acc += v; wg[base + ((a * 7u) & ${WORDS - 1}u)] = v + i;`) },
  { name: 'u32 division by a variable', ops: 1, code: kernel('', 'let d = buf[g.x] + 16u;', 'acc += x / d;') },
  { name: 'u32 division by a constant', ops: 1, code: kernel('', '', 'acc += x / 1000u;') },
];

const buf = device.createBuffer({ size: INVOCATIONS * WORDS * 4, usage: GPUBufferUsage.STORAGE });
const out = device.createBuffer({ size: INVOCATIONS * 4, usage: GPUBufferUsage.STORAGE });
const layout = device.createBindGroupLayout({
  entries: [0, 1].map((binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' as const } })),
});
const bindGroup = device.createBindGroup({ layout, entries: [buf, out].map((buffer, binding) => ({ binding, resource: { buffer } })) });
const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });

async function bestSeconds(pipeline: GPUComputePipeline): Promise<number> {
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(INVOCATIONS / WORKGROUP);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const perOp: Record<string, number> = {};
let loopNs = 0;
for (const k of kernels) {
  const pipeline = await device.createComputePipelineAsync({ layout: pipelineLayout, compute: { module: device.createShaderModule({ code: k.code }), entryPoint: 'main' } });
  const ns = ((await bestSeconds(pipeline)) * 1e9) / (INVOCATIONS * ITERATIONS);
  if (k.name === 'loop only') loopNs = ns;
  else perOp[k.name] = Math.max(0, (ns - loopNs) / k.ops);
}

const base = windowTrace(loadTrace(new URL('../traces/azure-conv-2023.csv', import.meta.url).pathname), 0, 300);
const configs = gridJobs(base, 64);
const sideBySide: Job[] = configs.flatMap((j) => Array.from({ length: 8 }, () => j));
const spread: Job[] = Array.from({ length: 8 }, () => configs).flat();
await runGpuJobs(gridJobs(windowTrace(base, 0, 1), 64)); // compiles the pipelines
const timeRun = async (jobs: Job[]) => {
  const t0 = performance.now();
  await runGpuJobs(jobs);
  return (performance.now() - t0) / 1000;
};
const sameS = await timeRun(sideBySide);
const spreadS = await timeRun(spread);
await releaseDevice();

if (json) {
  console.log(JSON.stringify({ backend: description, ns_per_op: perOp, divergence: { same_config_per_group_s: sameS, mixed_groups_s: spreadS, ratio: spreadS / sameS } }, null, 2));
} else {
  console.log(`backend ${description}`);
  console.log(`ns per invocation and operation (${INVOCATIONS} invocations, workgroups of ${WORKGROUP}):`);
  for (const [name, ns] of Object.entries(perOp)) console.log(`  ${name.padEnd(28)} ${ns.toFixed(2)}`);
  console.log(`divergence: 512 lanes, one configuration per workgroup ${sameS.toFixed(2)} s, mixed ${spreadS.toFixed(2)} s (${(spreadS / sameS).toFixed(2)}x)`);
}
