import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dawn.node is not known to behave in worker threads; forks keep each test file in its own process.
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
