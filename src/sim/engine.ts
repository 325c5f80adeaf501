// Picks the engine for a batch of jobs. --engine gpu forces the GPU engine on whatever adapter
// exists (Vulkan, else the software GL ES adapter) and fails if there is none; cpu forces the CPU
// reference on worker threads; auto runs the GPU engine on a hardware adapter and the CPU
// reference otherwise, saying why (on a software adapter the CPU reference is the faster of the
// two: docs/benchmarks.md).
import { runCpuJobs, defaultThreads } from './cpu/pool.js';
import type { BackendInfo, EngineChoice, Job, JobResult, RunOptions } from './job.js';

let gpuLoaded = false;

/** The GPU engine could not run (no adapter, shader compile error, lost device): exit 1, no stack. */
export class GpuEngineError extends Error {
  override name = 'GpuEngineError';
}

async function cpu(jobs: Job[], options: RunOptions, note?: string) {
  const threads = options.threads ?? defaultThreads();
  const results = await runCpuJobs(jobs, threads, options.onProgress);
  const backend: BackendInfo = { engine: 'cpu', description: `cpu: ${Math.min(threads, jobs.length)} thread(s)` };
  if (note) backend.note = note;
  return { results, backend };
}

/** Which engine a choice resolves to on this machine, and why auto did not pick the GPU engine. */
export async function chooseEngine(choice: EngineChoice): Promise<{ engine: 'cpu' | 'gpu'; note?: string }> {
  if (choice === 'cpu') return { engine: 'cpu' };
  try {
    const { acquireDevice } = await import('./gpu/device.js');
    gpuLoaded = true;
    const device = await acquireDevice();
    if (!device.ok) throw new Error(`no WebGPU adapter (${device.reason})`);
    if (choice === 'auto' && device.gpu.software) {
      return { engine: 'cpu', note: `software adapter ${device.gpu.description} found; auto uses the faster CPU reference there (--engine gpu forces it)` };
    }
    return { engine: 'gpu' };
  } catch (e) {
    if (choice === 'gpu') throw new GpuEngineError(`GPU engine unavailable: ${(e as Error).message}`);
    return { engine: 'cpu', note: `GPU engine not used: ${(e as Error).message}` };
  }
}

export async function runJobs(jobs: Job[], options: RunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo }> {
  const choice = options.engine ?? 'auto';
  const chosen = await chooseEngine(choice);
  if (chosen.engine === 'cpu') return cpu(jobs, options, chosen.note);
  try {
    const gpu = await import('./gpu/engine.js');
    if (jobs.some((job) => job.spec.prefixCache === 'on')) return await withoutPrefixCaching(jobs, options, gpu.runGpuJobs);
    return await gpu.runGpuJobs(jobs, { onProgress: options.onProgress, threads: options.threads });
  } catch (e) {
    // A shader compile error or a lost device: say so; auto still delivers results.
    if (choice === 'gpu') throw new GpuEngineError(`GPU engine failed: ${(e as Error).message}`);
    process.stderr.write(`schedlab: GPU engine failed, running the CPU reference instead: ${(e as Error).message}\n`);
    return cpu(jobs, options, `GPU engine failed: ${(e as Error).message}`);
  }
}

const NO_CACHE_TWIN = 'prefix caching has no WGSL twin yet';

/**
 * The GPU engine has no twin of the prefix cache yet: lanes with caching on run on the CPU reference,
 * each record saying why (until the engine's eligibility checks prefixCacheOn itself), the others on the GPU.
 */
async function withoutPrefixCaching(jobs: Job[], options: RunOptions, runGpuJobs: typeof import('./gpu/engine.js').runGpuJobs) {
  const cached = jobs.map((job, i) => (job.spec.prefixCache === 'on' ? i : -1)).filter((i) => i >= 0);
  const rest = jobs.map((_, i) => i).filter((i) => jobs[i].spec.prefixCache !== 'on');
  const total = jobs.length;
  let doneOnCpu = 0;
  let doneOnGpu = 0;
  const report = () => options.onProgress?.(doneOnCpu + doneOnGpu, total);
  const onGpu = rest.length > 0 ? await runGpuJobs(rest.map((i) => jobs[i]), { threads: options.threads, onProgress: (d) => ((doneOnGpu = d), report()) }) : null;
  const threads = options.threads ?? defaultThreads();
  const onCpu = await runCpuJobs(cached.map((i) => jobs[i]), threads, (d) => ((doneOnCpu = d), report()));
  const results: JobResult[] = new Array(total);
  rest.forEach((i, k) => (results[i] = onGpu!.results[k]));
  cached.forEach((i, k) => (results[i] = { ...onCpu[k], fallback: NO_CACHE_TWIN }));
  const backend: BackendInfo = onGpu?.backend ?? { engine: 'cpu', description: `cpu: ${Math.min(threads, cached.length)} thread(s)`, note: NO_CACHE_TWIN };
  return { results, backend };
}

/** The GPU engine on whatever adapter exists (compare, bench), or a GpuEngineError saying why not. */
export async function requireGpuEngine(): Promise<typeof import('./gpu/engine.js')> {
  gpuLoaded = true;
  try {
    const { requireDevice } = await import('./gpu/device.js');
    await requireDevice();
    return await import('./gpu/engine.js');
  } catch (e) {
    throw new GpuEngineError(`GPU engine unavailable: ${(e as Error).message}`);
  }
}

/** Hands the WebGPU device back (if one was opened) so that the process can exit cleanly. */
export async function releaseEngines(): Promise<void> {
  if (!gpuLoaded) return;
  const { releaseDevice } = await import('./gpu/device.js');
  await releaseDevice();
}
