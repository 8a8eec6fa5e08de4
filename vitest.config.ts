import { defineConfig } from 'vitest/config';

// One run over every package and app (`pnpm test:all`, and `npx vitest run --project <name>`). Under CI a JSON
// report is written too, so .ci/run can print the totals of every test that ran.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'monitoring', 'packaging'],
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci-out/vitest.json' }]] : ['default'],
  },
});
