import { Counter, Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, openStore, StoreError, type StoreOptions } from './index.js';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };
const savedEnv = { ...process.env };
afterEach(() => {
  for (const key of ['PROMETHEUS_MULTIPROC_DIR', 'PROMETHEUS_METRICS_FLUSH_INTERVAL_MS']) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

/** The error openStore throws for these options. */
function openError(options: unknown): Error {
  try {
    openStore(options as StoreOptions).close();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`openStore(${JSON.stringify(options)}) did not throw`);
}

describe('invalid options', () => {
  it.each([
    [{ flushIntervalMs: 'abc' }, 'Invalid option flushIntervalMs "abc": expected an integer number of milliseconds'],
    [{ flushIntervalMs: 5 }, 'Invalid option flushIntervalMs 5'],
    [{ flushIntervalMs: 1.5 }, 'Invalid option flushIntervalMs 1.5'],
    [{ dir: '' }, 'Invalid option dir "": expected a directory path'],
    [{ dir: 42 }, 'Invalid option dir 42'],
    [
      { flushInterval: 100 },
      'Invalid option "flushInterval": expected one of dir, flushIntervalMs, fresh, logger, maxSeries',
    ],
    [{ maxSeries: 0 }, 'Invalid option maxSeries 0: expected an integer 1-10000000'],
    [{ maxSeries: '50' }, 'Invalid option maxSeries "50": expected an integer 1-10000000'],
    [{ fresh: 'yes' }, 'Invalid option fresh "yes": expected true or false'],
    [{ logger: {} }, 'Invalid option logger {}: expected an object with a warn(message) method'],
  ])('%j fails with a ConfigError naming the option and the value', (options, message) => {
    const err = openError(options);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(message);
  });

  it('an invalid PROMETHEUS_METRICS_FLUSH_INTERVAL_MS fails naming the variable and the value', () => {
    process.env.PROMETHEUS_METRICS_FLUSH_INTERVAL_MS = 'abc';
    const err = openError({ dir: tempDir().dir });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('PROMETHEUS_METRICS_FLUSH_INTERVAL_MS "abc"');
  });

  it('an unknown exposition format is rejected by name', async () => {
    const store = openStore({ dir: tempDir().dir, logger: quiet });
    await expect(store.metrics({ format: 'xml' as 'prometheus' })).rejects.toThrow(/Invalid format "xml"/);
    store.close();
  });
});

describe('defaults and lifecycle', () => {
  it('uses PROMETHEUS_MULTIPROC_DIR when no dir is given', () => {
    const { dir } = tempDir();
    process.env.PROMETHEUS_MULTIPROC_DIR = dir;
    const store = openStore({ logger: quiet });
    expect(store.path).toBe(`${dir}/kci-metrics.sqlite`);
    store.close();
  });

  it('a full restart keeps totals by default, and starts from zero with fresh: true', async () => {
    const { dir } = tempDir();
    const run = async (options: StoreOptions, inc: number) => {
      const registry = new Registry();
      new Counter({ name: 'restarts_total', help: 'h', registers: [registry] }).inc(inc);
      const store = openStore({ dir, logger: quiet, ...options });
      store.attach(registry);
      store.close(); // flushes
      const reader = openStore({ dir, logger: quiet });
      const text = await reader.metrics();
      reader.close();
      return text;
    };
    expect(await run({}, 5)).toContain('restarts_total 5\n');
    expect(await run({}, 2)).toContain('restarts_total 7\n');
    expect(await run({ fresh: true }, 1)).toContain('restarts_total 1\n');
  });

  it('a closed store says so', async () => {
    const store = openStore({ dir: tempDir().dir, logger: quiet });
    store.close();
    expect(store.flush()).toBe(false);
    await expect(store.metrics()).rejects.toMatchObject({ name: 'StoreError', code: 'STORE_CLOSED' });
    expect(() => store.attach(new Registry())).toThrow(StoreError);
    store.close(); // twice is fine
  });
});
