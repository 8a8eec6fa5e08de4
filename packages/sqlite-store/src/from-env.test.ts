import { existsSync } from 'node:fs';
import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { attachFromEnv, ConfigError, openStore } from './index.js';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };

function registryWithJobs(count: number): Registry {
  const registry = new Registry();
  new Counter({ name: 'jobs_total', help: 'Jobs done.', registers: [registry] }).inc(count);
  return registry;
}

describe('attachFromEnv', () => {
  it('PROMETHEUS_METRICS_ENABLED=true: attaches the registry to the store in PROMETHEUS_MULTIPROC_DIR', async () => {
    const { dir } = tempDir();
    const env = {
      PROMETHEUS_METRICS_ENABLED: 'true',
      PROMETHEUS_MULTIPROC_DIR: dir,
      PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: '50',
    };
    const store = attachFromEnv(registryWithJobs(3), { env, logger: quiet });
    expect(store).toBeDefined();
    try {
      // The flush timer of the variable's interval writes the values; nothing here flushes by hand.
      const reader = openStore({ dir, logger: quiet });
      try {
        await expect.poll(() => reader.metrics(), { timeout: 10_000 }).toContain('jobs_total 3\n');
      } finally {
        reader.close();
      }
    } finally {
      store?.close();
    }
  });

  it.each([{}, { PROMETHEUS_METRICS_ENABLED: 'false' }, { PROMETHEUS_METRICS_ENABLED: '' }])(
    '%j: returns undefined and writes nothing',
    (vars) => {
      const { dir } = tempDir();
      const store = attachFromEnv(registryWithJobs(1), {
        env: { ...vars, PROMETHEUS_MULTIPROC_DIR: dir },
        logger: quiet,
      });
      expect(store).toBeUndefined();
      expect(existsSync(dir)).toBe(false);
    },
  );

  it.each([
    [{ PROMETHEUS_METRICS_ENABLED: 'maybe' }, 'Invalid PROMETHEUS_METRICS_ENABLED "maybe": expected true or false'],
    [
      { PROMETHEUS_METRICS_ENABLED: 'true', PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: '5' },
      'Invalid PROMETHEUS_METRICS_FLUSH_INTERVAL_MS "5": expected an integer 10-3600000',
    ],
  ])('%j throws a ConfigError naming the variable and the value', (env, message) => {
    expect(() => attachFromEnv(new Registry(), { env })).toThrow(ConfigError);
    expect(() => attachFromEnv(new Registry(), { env })).toThrow(message);
  });
});
