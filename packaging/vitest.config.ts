import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'packaging',
    include: ['src/**/*.test.ts'],
    // Packs and installs once for every test file (two native builds of better-sqlite3 side by side, then two more).
    globalSetup: ['./src/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
