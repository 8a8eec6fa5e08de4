import { defineConfig } from 'vitest/config';

// One run over every package and app. Under CI a JSON report is written too, so .ci/run can print the
// totals of every test that ran.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'monitoring', 'packaging'],
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci-out/vitest.json' }]] : ['default'],
  },
});
