import { defineConfig } from 'vitest/config';

// One runner for the whole repository. Workspace packages resolve to their TypeScript
// sources through the "development" export condition, so tests never need a build.
export default defineConfig({
  resolve: { conditions: ['development'] },
  test: {
    include: ['libs/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'test/kernel/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
