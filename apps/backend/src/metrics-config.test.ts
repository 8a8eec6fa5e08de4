// Moved from packages/core/src/config.test.ts (the metrics settings now come from their owners).

import { ConfigError } from '@kci-metrics/sqlite-store';
import { describe, expect, it } from 'vitest';
import { loadMetricsConfig } from './metrics-config.js';

describe('loadMetricsConfig', () => {
  it('uses the seed defaults when nothing is set', () => {
    expect(loadMetricsConfig({})).toEqual({
      enabled: false,
      port: 8001,
      host: '0.0.0.0',
      multiprocDir: '/tmp/prometheus_multiproc_dir',
      flushIntervalMs: 1000,
      maxSeries: 2000,
      freshStart: false,
    });
  });

  it('reads every variable', () => {
    const config = loadMetricsConfig({
      PROMETHEUS_METRICS_ENABLED: 'True',
      PROMETHEUS_METRICS_PORT: '9101',
      PROMETHEUS_METRICS_HOST: '127.0.0.1',
      PROMETHEUS_MULTIPROC_DIR: '/var/run/metrics',
      PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: '250',
      PROMETHEUS_METRICS_FRESH_START: 'yes',
    });
    expect(config).toEqual({
      enabled: true,
      port: 9101,
      host: '127.0.0.1',
      multiprocDir: '/var/run/metrics',
      flushIntervalMs: 250,
      maxSeries: 2000,
      freshStart: true,
    });
  });

  it.each([
    ['PROMETHEUS_METRICS_PORT', 'abc', 'Invalid PROMETHEUS_METRICS_PORT "abc": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_PORT', '70000', 'Invalid PROMETHEUS_METRICS_PORT "70000": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_PORT', '0', 'Invalid PROMETHEUS_METRICS_PORT "0": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_PORT', '80.5', 'Invalid PROMETHEUS_METRICS_PORT "80.5": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_ENABLED', 'maybe', 'Invalid PROMETHEUS_METRICS_ENABLED "maybe": expected true or false'],
    ['PROMETHEUS_METRICS_HOST', 'a b', 'Invalid PROMETHEUS_METRICS_HOST "a b": expected an IP address or host name'],
    [
      'PROMETHEUS_METRICS_FLUSH_INTERVAL_MS',
      '5',
      'Invalid PROMETHEUS_METRICS_FLUSH_INTERVAL_MS "5": expected an integer 10-3600000',
    ],
  ])('rejects %s=%s with an error naming the variable and the value', (key, value, message) => {
    const run = () => loadMetricsConfig({ [key]: value });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });

  it('treats empty values as unset and resolves a relative store directory', () => {
    expect(loadMetricsConfig({ PROMETHEUS_METRICS_PORT: ' ', PROMETHEUS_METRICS_ENABLED: '' }).port).toBe(8001);
    expect(loadMetricsConfig({ PROMETHEUS_MULTIPROC_DIR: 'rel/dir' }).multiprocDir).toBe(`${process.cwd()}/rel/dir`);
  });
});
