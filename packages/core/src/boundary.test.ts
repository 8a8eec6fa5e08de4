// Issue 15 ("core is two packages under one name"): core holds what the HTTP adapters share (the metric
// definitions, the recorder, ConfigError for their options). The store's errors, modes and env parsing, the
// aggregator's and the demo's configuration live in their own packages; core depends on none of them.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from './index.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe("core's public API is the adapters' toolkit only", () => {
  it('exports the recorder, the HTTP metric definitions and ConfigError', () => {
    expect(Object.keys(core)).toEqual(
      expect.arrayContaining(['createHttpRecorder', 'ConfigError', 'HTTP_DURATION_NAME', 'HTTP_DURATION_BUCKETS']),
    );
    expect(new core.ConfigError('option prefix', 'a b', 'a metric name prefix').message).toBe(
      'Invalid option prefix "a b": expected a metric name prefix',
    );
  });

  it.each([
    // moved to @kci-metrics/sqlite-store
    'StoreError',
    'MULTIPROCESS_MODES',
    'DEFAULT_MULTIPROCESS_MODE',
    'DEFAULT_MULTIPROC_DIR',
    'DEFAULT_FLUSH_INTERVAL_MS',
    // moved to @kci-metrics/aggregator (loadAggregatorConfig) and the demo backend
    'loadConfig',
    'DEFAULT_METRICS_PORT',
    'DEFAULT_METRICS_HOST',
    'parseBoolean',
    'parseInteger',
  ])('no longer exports %s', (name) => {
    expect(Object.keys(core)).not.toContain(name);
  });

  it('depends on no other @kci-metrics package, and no source file imports one', () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
    const names = ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((field) =>
      Object.keys((manifest[field] as Record<string, string> | undefined) ?? {}),
    );
    expect(names).toContain('prom-client');
    expect(names.filter((n) => n.startsWith('@kci-metrics/'))).toEqual([]);
    const imports: string[] = [];
    for (const file of readdirSync(join(pkg, 'src'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const text = readFileSync(join(pkg, 'src', file), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*['"](@kci-metrics\/[^'"]+)['"]/g)) {
        imports.push(`${relative(pkg, join(pkg, 'src', file))}: ${specifier}`);
      }
    }
    expect(imports).toEqual([]);
  });
});
