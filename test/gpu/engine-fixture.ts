// Shared by the GPU engine's differential test files: the trace, the run's seed, the device.
import { afterAll, beforeAll } from 'vitest';
import { releaseDevice, requireDevice } from '../../src/sim/gpu/device.js';
import { runGpuJobs, type GpuRunOptions } from '../../src/sim/gpu/engine.js';
import type { Job } from '../../src/sim/job.js';

export const AZURE = new URL('../../traces/azure-conv-2023.csv', import.meta.url).pathname;

/** The run's seed, printed by the files that draw from it (SCHEDLAB_TEST_SEED replays it). */
export const seed = Number(process.env.SCHEDLAB_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));

/** Opens the adapter before a file's tests (no adapter fails them, never skips) and releases it after. */
export function useGpuDevice(): void {
  beforeAll(async () => {
    const gpu = await requireDevice();
    console.log(`GPU backend: ${gpu.description}`);
  });
  afterAll(async () => {
    await releaseDevice();
  });
}

// No tail race: these cases assert which engine ran a lane, and a race's winner depends on timing.
export const runOnGpu = (jobs: Job[], opts: GpuRunOptions = {}) => runGpuJobs(jobs, { raceTail: false, ...opts });
