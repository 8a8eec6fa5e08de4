import { kciProject } from '@kci-metrics/test-support/vitest';

export default kciProject({
  name: 'packaging',
  // Packs and installs once for every test file (two native builds of better-sqlite3 side by side, then two
  // more: minutes), so every packaging test is a slow one.
  timeout: 120_000,
  test: { globalSetup: ['./src/setup.ts'] },
});
