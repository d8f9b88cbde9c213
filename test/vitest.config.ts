import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // Real-rate tests run alone afterwards (vitest.serial.config.ts).
    exclude: ['test/integration/bandwidth/**', '**/node_modules/**'],
    // Tests start real servers, child processes and SQLite files; give slow CI machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
