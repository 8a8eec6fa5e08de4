import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@kci-metrics/sqlite-store',
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
