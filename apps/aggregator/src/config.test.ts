// The aggregator's part of the environment contract (the cases of the former packages/core/src/config.test.ts
// that concern it): its address, parsed here, and the store's variables, as @kci-metrics/sqlite-store reads them.
import { readFileSync } from 'node:fs';
import { ConfigError } from '@kci-metrics/sqlite-store';
import { describe, expect, it } from 'vitest';
import { loadAggregatorConfig } from './index.js';

describe('loadAggregatorConfig', () => {
  it('uses the seed defaults when nothing is set', () => {
    expect(loadAggregatorConfig({})).toEqual({
      enabled: false,
      port: 8001,
      host: '0.0.0.0',
      multiprocDir: '/tmp/prometheus_multiproc_dir',
      flushIntervalMs: 1000,
      maxSeries: 2000,
    });
  });

  it('reads every variable', () => {
    const config = loadAggregatorConfig({
      PROMETHEUS_METRICS_ENABLED: 'on',
      PROMETHEUS_METRICS_PORT: ' 9101 ',
      PROMETHEUS_METRICS_HOST: '[::1]',
      PROMETHEUS_MULTIPROC_DIR: '/var/run/metrics',
      PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: '250',
    });
    expect(config).toEqual({
      enabled: true,
      port: 9101,
      host: '::1',
      multiprocDir: '/var/run/metrics',
      flushIntervalMs: 250,
      maxSeries: 2000,
    });
  });

  it.each([
    ['PROMETHEUS_METRICS_PORT', 'abc', 'Invalid PROMETHEUS_METRICS_PORT "abc": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_PORT', '70000', 'Invalid PROMETHEUS_METRICS_PORT "70000": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_PORT', '0', 'Invalid PROMETHEUS_METRICS_PORT "0": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_PORT', '80.5', 'Invalid PROMETHEUS_METRICS_PORT "80.5": expected an integer 1-65535'],
    ['PROMETHEUS_METRICS_HOST', 'a b', 'Invalid PROMETHEUS_METRICS_HOST "a b": expected an IP address or host name'],
    ['PROMETHEUS_METRICS_ENABLED', 'maybe', 'Invalid PROMETHEUS_METRICS_ENABLED "maybe": expected true or false'],
  ])('rejects %s=%s with a ConfigError naming the variable and the value', (key, value, message) => {
    const run = () => loadAggregatorConfig({ [key]: value });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });

  it('depends on @kci-metrics/sqlite-store only (its ConfigError, StoreError and env parsing), not on core', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const ours = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }).filter((n) =>
      n.startsWith('@kci-metrics/'),
    );
    expect(ours).toEqual(['@kci-metrics/sqlite-store']);
  });
});
