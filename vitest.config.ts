import { availableParallelism } from 'node:os';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// Files that take minutes on CI's software adapter (cold shader compiles) start first, so that the
// workers finish together; the rest keep vitest's order.
const LONG_FIRST = ['test/gpu/engine.test.ts', 'test/docs/examples.test.ts', 'test/gpu/engine-limits.test.ts', 'test/gpu/cli.test.ts', 'test/gpu/prefix-cache.test.ts', 'test/gpu/prefix-routers.test.ts'];

class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONG_FIRST.findIndex((p) => f.moduleId.endsWith(p));
      return i < 0 ? LONG_FIRST.length : i;
    };
    const sorted = await super.sort(files);
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((e) => e.f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dawn.node is not known to behave in worker threads; forks keep each test file in its own process.
    pool: 'forks',
    // Vitest's default in a run is cores - 1: one file at a time on CI's 2 cores, where a GPU test
    // file spends minutes in llvmpipe's single-threaded cold shader compiles.
    maxWorkers: availableParallelism(),
    sequence: { sequencer: LongFilesFirst },
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
