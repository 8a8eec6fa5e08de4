// The store's part of the environment contract (the cases of the former packages/core/src/config.test.ts that
// concern the store), parsed once for openStore(), attachFromEnv() and the apps.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadStoreConfig } from './index.js';

describe('loadStoreConfig', () => {
  it('uses the seed defaults when nothing is set', () => {
    expect(loadStoreConfig({})).toEqual({
      enabled: false,
      multiprocDir: '/tmp/prometheus_multiproc_dir',
      flushIntervalMs: 1000,
      maxSeries: 2000,
    });
  });

  it('reads every variable, and only its own', () => {
    const config = loadStoreConfig({
      PROMETHEUS_METRICS_ENABLED: 'True',
      PROMETHEUS_MULTIPROC_DIR: '/var/run/metrics',
      PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: '250',
      PROMETHEUS_METRICS_MAX_SERIES: '500',
      // The aggregator's and the demo's variables are theirs to validate.
      PROMETHEUS_METRICS_PORT: 'abc',
      PROMETHEUS_METRICS_FRESH_START: 'maybe',
    });
    expect(config).toEqual({ enabled: true, multiprocDir: '/var/run/metrics', flushIntervalMs: 250, maxSeries: 500 });
  });

  it.each([
    ['PROMETHEUS_METRICS_ENABLED', 'maybe', 'Invalid PROMETHEUS_METRICS_ENABLED "maybe": expected true or false'],
    [
      'PROMETHEUS_METRICS_FLUSH_INTERVAL_MS',
      '5',
      'Invalid PROMETHEUS_METRICS_FLUSH_INTERVAL_MS "5": expected an integer 10-3600000',
    ],
    [
      'PROMETHEUS_METRICS_FLUSH_INTERVAL_MS',
      '1e3',
      'Invalid PROMETHEUS_METRICS_FLUSH_INTERVAL_MS "1e3": expected an integer 10-3600000',
    ],
    [
      'PROMETHEUS_METRICS_MAX_SERIES',
      '0',
      'Invalid PROMETHEUS_METRICS_MAX_SERIES "0": expected an integer 1-10000000 (series per metric, the overflow series included)',
    ],
    ['PROMETHEUS_MULTIPROC_DIR', 'a\0b', 'Invalid PROMETHEUS_MULTIPROC_DIR "a\\u0000b": expected a directory path'],
  ])('rejects %s=%j with an error naming the variable and the value', (key, value, message) => {
    const run = () => loadStoreConfig({ [key]: value });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });

  it('treats empty values as unset and resolves a relative store directory', () => {
    expect(loadStoreConfig({ PROMETHEUS_METRICS_ENABLED: ' ', PROMETHEUS_MULTIPROC_DIR: '' })).toEqual({
      enabled: false,
      multiprocDir: '/tmp/prometheus_multiproc_dir',
      flushIntervalMs: 1000,
      maxSeries: 2000,
    });
    expect(loadStoreConfig({ PROMETHEUS_MULTIPROC_DIR: ' rel/dir ' }).multiprocDir).toBe(`${process.cwd()}/rel/dir`);
  });
});
