import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dawn.node is not known to behave in worker threads; forks keep each test file in its own process.
    pool: 'forks',
    // Vitest's default in a run is cores - 1: one file at a time on CI's 2 cores, where a GPU test
    // file spends minutes in llvmpipe's single-threaded cold shader compiles.
    maxWorkers: availableParallelism(),
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
