import { defineConfig } from 'vitest/config';

// One run over every package and app, so CI gets a single JSON report (.ci/run).
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'monitoring'],
  },
});
