// Issue 15 ("core is two packages under one name"): the store owns its errors, modes, options and env parsing,
// so it depends on no other @kci-metrics package. A user who installs the store alone (no @kci-metrics/core)
// can run it and catch its errors.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const pkg = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(pkg, 'package.json'));
const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<string, unknown>;

function filesUnder(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => pattern.test(f))
    .map((f) => join(dir, f));
}

/** Every `@kci-metrics/...` module a file imports (static, dynamic, `export ... from`), with the file. */
function kciImports(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*['"](@kci-metrics\/[^'"]+)['"]/g)) {
      found.push(`${relative(pkg, file)}: ${specifier}`);
    }
  }
  return found;
}

describe('the store depends on no other @kci-metrics package', () => {
  it('package.json lists none in dependencies, peerDependencies or optionalDependencies', () => {
    const names = ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((field) =>
      Object.keys((manifest[field] as Record<string, string> | undefined) ?? {}),
    );
    expect(names).toContain('better-sqlite3');
    expect(names.filter((n) => n.startsWith('@kci-metrics/'))).toEqual([]);
  });

  it('no source file imports one; only the package itself by name, and tests the private test helpers', () => {
    const files = filesUnder(join(pkg, 'src'), /\.ts$/);
    expect(files.length).toBeGreaterThan(20);
    const allowed = (i: string) =>
      i.endsWith(': @kci-metrics/sqlite-store') ||
      // @kci-metrics/test-support is private (never published), a devDependency used by test files only.
      (/\.test\.ts: /.test(i) && /: @kci-metrics\/test-support(\/|$)/.test(i));
    expect(kciImports(files).filter((i) => !allowed(i))).toEqual([]);
  });

  it.skipIf(!existsSync(join(pkg, 'dist', 'index.js')))('the built dist (.js and .d.ts) imports none', () => {
    const files = filesUnder(join(pkg, 'dist'), /\.(js|d\.ts)$/);
    expect(files.length).toBeGreaterThan(10);
    expect(kciImports(files)).toEqual([]);
  });

  it.skipIf(!existsSync(join(pkg, 'dist', 'index.js')))(
    'installed alone (package.json and dist, with better-sqlite3 and prom-client): records, renders, throws its own ConfigError',
    () => {
      const { root, dir } = tempDir();
      const modules = join(root, 'node_modules');
      mkdirSync(join(modules, '@kci-metrics', 'sqlite-store'), { recursive: true });
      cpSync(join(pkg, 'package.json'), join(modules, '@kci-metrics', 'sqlite-store', 'package.json'));
      cpSync(join(pkg, 'dist'), join(modules, '@kci-metrics', 'sqlite-store', 'dist'), { recursive: true });
      for (const dep of ['better-sqlite3', 'prom-client']) {
        symlinkSync(dirname(require.resolve(`${dep}/package.json`)), join(modules, dep));
      }
      const program = `
        import { attachFromEnv, ConfigError, openStore, StoreError } from '@kci-metrics/sqlite-store';
        import { Counter, Registry } from 'prom-client';
        const registry = new Registry();
        new Counter({ name: 'jobs_total', help: 'Jobs done.', registers: [registry] }).inc(3);
        const env = { PROMETHEUS_METRICS_ENABLED: 'true', PROMETHEUS_MULTIPROC_DIR: ${JSON.stringify(dir)} };
        const store = attachFromEnv(registry, { env, logger: { warn() {} } });
        store.flush();
        const text = await store.metrics();
        store.close();
        const error = (f) => { try { f(); } catch (e) { return e; } };
        const bad = error(() => openStore({ flushIntervalMs: 5 }));
        const badEnv = error(() => attachFromEnv(registry, { env: { PROMETHEUS_METRICS_ENABLED: 'maybe' } }));
        const closed = error(() => store.attach(registry));
        console.log(JSON.stringify({
          text,
          bad: [bad instanceof ConfigError, bad.name, bad.key, bad.message],
          badEnv: [badEnv instanceof ConfigError, badEnv.key, badEnv.message],
          closed: [closed instanceof StoreError, closed.code],
        }));
      `;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: root, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.text).toContain('jobs_total 3\n');
      expect(out.bad).toEqual([
        true,
        'ConfigError',
        'option flushIntervalMs',
        'Invalid option flushIntervalMs 5: expected an integer number of milliseconds, 10-3600000',
      ]);
      expect(out.badEnv).toEqual([
        true,
        'PROMETHEUS_METRICS_ENABLED',
        'Invalid PROMETHEUS_METRICS_ENABLED "maybe": expected true or false',
      ]);
      expect(out.closed).toEqual([true, 'STORE_CLOSED']);
    },
  );
});
