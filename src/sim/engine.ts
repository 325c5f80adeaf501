// Picks the engine for a batch of jobs. --engine gpu forces the GPU engine on whatever adapter
// exists (Vulkan, else the software GL ES adapter) and fails if there is none; cpu forces the CPU
// reference on worker threads; auto runs the GPU engine on a hardware adapter and the CPU
// reference otherwise, saying why (on a software adapter the CPU reference is the faster of the
// two: docs/benchmarks.md).
import { hasWgslTwin } from '../policy/twins.js';
import { runCpuJobs, defaultThreads } from './cpu/pool.js';
import type { GpuRunOptions } from './gpu/engine.js';
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

/** Why the GPU engine cannot run a job's policies (a router or scheduler without a WGSL twin), or null. */
export function missingTwin(job: Job): string | null {
  if (!hasWgslTwin('scheduler', job.spec.scheduler.name)) return `scheduler ${job.spec.scheduler.name} has no WGSL twin yet`;
  if (!hasWgslTwin('router', job.spec.router.name)) return `router ${job.spec.router.name} has no WGSL twin yet`;
  return null;
}

/**
 * The GPU engine on the jobs whose policies have WGSL twins; the others run on the CPU reference,
 * each result saying why (as lanes the GPU engine hands back do).
 */
export async function runGpuEngineJobs(jobs: Job[], opts: GpuRunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo }> {
  const gpu = await import('./gpu/engine.js');
  const reasons = jobs.map(missingTwin);
  const onGpu = jobs.flatMap((job, i) => (reasons[i] === null ? [i] : []));
  if (onGpu.length === jobs.length) return gpu.runGpuJobs(jobs, opts);
  const onCpu = jobs.flatMap((job, i) => (reasons[i] === null ? [] : [i]));
  const results: JobResult[] = new Array(jobs.length);
  const progress = opts.onProgress;
  let cpuDone = 0;
  let gpuDone = 0;
  const report = () => progress?.(cpuDone + gpuDone, jobs.length);
  const cpuResults = await runCpuJobs(
    onCpu.map((i) => jobs[i]),
    opts.threads ?? defaultThreads(),
    (done) => {
      cpuDone = done;
      report();
    },
  );
  onCpu.forEach((i, k) => (results[i] = { ...cpuResults[k], fallback: reasons[i]! }));
  let backend: BackendInfo = { engine: 'gpu', description: 'gpu: no lane had WGSL twins for its policies' };
  if (onGpu.length > 0) {
    const r = await gpu.runGpuJobs(
      onGpu.map((i) => jobs[i]),
      {
        ...opts,
        onProgress: (done) => {
          gpuDone = done;
          report();
        },
      },
    );
    onGpu.forEach((i, k) => (results[i] = r.results[k]));
    backend = r.backend;
  }
  return { results, backend };
}

export async function runJobs(jobs: Job[], options: RunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo }> {
  const choice = options.engine ?? 'auto';
  const chosen = await chooseEngine(choice);
  if (chosen.engine === 'cpu') return cpu(jobs, options, chosen.note);
  try {
    return await runGpuEngineJobs(jobs, { onProgress: options.onProgress, threads: options.threads });
  } catch (e) {
    // A shader compile error or a lost device: say so; auto still delivers results.
    if (choice === 'gpu') throw new GpuEngineError(`GPU engine failed: ${(e as Error).message}`);
    process.stderr.write(`schedlab: GPU engine failed, running the CPU reference instead: ${(e as Error).message}\n`);
    return cpu(jobs, options, `GPU engine failed: ${(e as Error).message}`);
  }
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
