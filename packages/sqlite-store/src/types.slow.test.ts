// Issue 13 §4 (typing): a user of the store alone (prom-client and @kci-metrics/sqlite-store, nothing else)
// type-checks `multiprocessMode`, against the published .d.ts files with skipLibCheck off, and without
// @types/better-sqlite3 (no better-sqlite3 type may appear in what the package exports).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const pkg = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(pkg, 'package.json'));
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

const APP = `import { Gauge, Registry } from 'prom-client';
import {
  ConfigError,
  loadStoreConfig,
  MULTIPROCESS_MODES,
  type MultiprocessMode,
  openStore,
  StoreError,
  type StoreErrorCode,
} from '@kci-metrics/sqlite-store';

const registry = new Registry();
new Gauge({ name: 'queue_depth', help: 'Jobs waiting', multiprocessMode: 'livemax', registers: [registry] });
const mode: MultiprocessMode = MULTIPROCESS_MODES[0] ?? 'all';
new Gauge({ name: 'g2', help: 'x', multiprocessMode: mode, registers: [registry] });
// @ts-expect-error not a mode
new Gauge({ name: 'g3', help: 'x', multiprocessMode: 'median', registers: [registry] });
openStore({ dir: '/tmp/x' }).attach(registry);
// The store's own errors and env parsing (issue 15): a store-only user branches on them without core.
const failure: unknown = undefined;
if (failure instanceof StoreError) failure.code satisfies StoreErrorCode;
if (failure instanceof ConfigError) failure.key satisfies string;
loadStoreConfig({}).multiprocDir satisfies string;
`;

describe('the published types', () => {
  it.skipIf(!existsSync(join(pkg, 'dist', 'index.d.ts')))(
    'type-check multiprocessMode for a store-only user, with skipLibCheck off and no @types/better-sqlite3',
    () => {
      const { root } = tempDir();
      const modules = join(root, 'node_modules');
      mkdirSync(join(modules, '@kci-metrics', 'sqlite-store'), { recursive: true });
      mkdirSync(join(modules, '@types'), { recursive: true });
      // The package as published (package.json and dist/), apart from its own dependencies.
      cpSync(join(pkg, 'package.json'), join(modules, '@kci-metrics', 'sqlite-store', 'package.json'));
      cpSync(join(pkg, 'dist'), join(modules, '@kci-metrics', 'sqlite-store', 'dist'), { recursive: true });
      symlinkSync(dirname(require.resolve('prom-client/package.json')), join(modules, 'prom-client'));
      symlinkSync(dirname(require.resolve('@types/node/package.json')), join(modules, '@types', 'node'));
      writeFileSync(join(root, 'app.ts'), APP);
      writeFileSync(
        join(root, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            types: ['node'],
          },
          files: ['app.ts'],
        }),
      );
      const r = spawnSync(process.execPath, [tsc, '-p', root], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    },
  );
});
