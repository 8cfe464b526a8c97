import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts its own redis-server and child processes: forks keep them apart and killable.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Two cores: more parallel files only queue behind each other and make timings noisy.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
