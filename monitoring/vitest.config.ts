import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'monitoring',
    include: ['test/**/*.test.ts'],
    // The tests start real Prometheus servers and run promtool; on a busy 2-core machine that takes time.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
