import { defineConfig } from 'vitest/config';

// The kernel tier (`npm run test:kernel`): one qemu boot per LSM, run in order; the root config
// excludes test/kernel so that `vitest run` stays VM-free.
export default defineConfig({
  resolve: { conditions: ['development'] },
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/kernel/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
