import { kciProject } from '@kci-metrics/test-support/vitest';

export default kciProject({ name: 'backend' });
