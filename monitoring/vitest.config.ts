import { kciProject } from '@kci-metrics/test-support/vitest';

export default kciProject({
  name: 'monitoring',
  include: ['test/**/*.test.ts'],
  // The tests start real Prometheus servers and run promtool; on a busy 2-core machine that takes time.
  timeout: 120_000,
});
