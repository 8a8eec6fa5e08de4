import { kciProject } from '@kci-metrics/test-support/vitest';

export default kciProject({ name: '@kci-metrics/sqlite-store' });
