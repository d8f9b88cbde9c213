import { defineConfig } from 'vitest/config';

/**
 * Real-rate tests (bandwidth caps, yielding on a shaped link) run after the main suite, one file
 * at a time, so the rest of the suite's loopback traffic and CPU do not skew their figures.
 */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/integration/bandwidth/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
