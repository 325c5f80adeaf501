// Picks the engine for a batch of jobs. --engine gpu forces the GPU engine on whatever adapter
// exists (Vulkan, else the software GL ES adapter) and fails if there is none; cpu forces the CPU
// reference on worker threads; auto runs the GPU engine on a hardware adapter for batches of at
// least AUTO_GPU_MIN_LANES lanes and the CPU reference otherwise, saying why (docs/gpu.md "--engine
// auto": where that rule comes from).
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

/**
 * Fewest lanes for which auto uses a hardware GPU: with one lane per GPU thread, a batch runs about
 * as long as its slowest lane, so it beats C host cores only when lanes > C x (GPU time per lane
 * instant / CPU time per lane instant). On the H200 measured so far that ratio was 6-19 before the
 * engine's serial path got 3x shorter (docs/gpu.md), so 16 cores need some 32-100 lanes; 256 leaves a
 * margin. SCHEDLAB_AUTO_GPU_MIN_LANES overrides it.
 */
export function autoGpuMinLanes(): number {
  const env = Number(process.env.SCHEDLAB_AUTO_GPU_MIN_LANES);
  return Number.isInteger(env) && env >= 0 ? env : 256;
}

/** Which engine a choice resolves to on this machine for `lanes` lanes, and why auto did not pick the GPU engine. */
export async function chooseEngine(choice: EngineChoice, lanes = Infinity): Promise<{ engine: 'cpu' | 'gpu'; note?: string }> {
  if (choice === 'cpu') return { engine: 'cpu' };
  try {
    const { acquireDevice } = await import('./gpu/device.js');
    gpuLoaded = true;
    const device = await acquireDevice();
    if (!device.ok) throw new Error(`no WebGPU adapter (${device.reason})`);
    if (choice === 'auto' && device.gpu.software) {
      return { engine: 'cpu', note: `software adapter ${device.gpu.description} found; auto uses the faster CPU reference there (--engine gpu forces it)` };
    }
    if (choice === 'auto' && lanes < autoGpuMinLanes()) {
      return { engine: 'cpu', note: `${lanes} configuration(s): auto uses the GPU engine from ${autoGpuMinLanes()} on (--engine gpu forces it)` };
    }
    return { engine: 'gpu' };
  } catch (e) {
    if (choice === 'gpu') throw new GpuEngineError(`GPU engine unavailable: ${(e as Error).message}`);
    return { engine: 'cpu', note: `GPU engine not used: ${(e as Error).message}` };
  }
}

export async function runJobs(jobs: Job[], options: RunOptions = {}): Promise<{ results: JobResult[]; backend: BackendInfo }> {
  const choice = options.engine ?? 'auto';
  const chosen = await chooseEngine(choice, jobs.length);
  if (chosen.engine === 'cpu') return cpu(jobs, options, chosen.note);
  try {
    const gpu = await import('./gpu/engine.js');
    return await gpu.runGpuJobs(jobs, { onProgress: options.onProgress, threads: options.threads });
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
