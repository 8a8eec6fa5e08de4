/**
 * The vitest project settings every package and app shares: workspace packages resolve to their TypeScript
 * source (the `@kci-metrics/source` export condition; Node.js itself, and so every child process a test
 * starts, still resolves `default`, the built dist/), and slow tests are left out unless KCI_SLOW_TESTS=1.
 *
 * A slow test is a file named `*.slow.test.ts`: one that takes more than about 20 s on the 2-core machine
 * (measured with vitest's JSON reporter). `pnpm test` skips them; `pnpm test:all` and `.ci/run` run them.
 *
 * Plain JavaScript: vitest loads its config files with Node.js, which runs no TypeScript from a package.
 */
import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

export const SOURCE_CONDITION = '@kci-metrics/source';

export const slowTests = process.env.KCI_SLOW_TESTS === '1' || process.env.KCI_SLOW_TESTS === 'true';

export const SLOW_TESTS = '**/*.slow.test.ts';

// Vite's own defaults for Node.js after ours: setting `conditions` replaces them.
const conditions = [SOURCE_CONDITION, 'module', 'node', 'development|production'];

/** @param {import('./vitest.d.mts').ProjectOptions} options */
export function kciProject({ name, include = ['src/**/*.test.ts'], timeout = 60_000, test = {} }) {
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      name,
      include,
      exclude: ['**/node_modules/**', '**/dist/**', ...(slowTests ? [] : [SLOW_TESTS])],
      // A project whose every test is slow has none to run in a quick run.
      passWithNoTests: !slowTests,
      testTimeout: timeout,
      hookTimeout: timeout,
      ...test,
      // Child processes started by a test resolve the packages' dist/, not src/ (see vitest-setup.mjs).
      setupFiles: [fileURLToPath(new URL('./vitest-setup.mjs', import.meta.url)), ...[test.setupFiles ?? []].flat()],
    },
  });
}
