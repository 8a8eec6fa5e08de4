import { type AggregatorConfig, loadAggregatorConfig } from '@kci-metrics/aggregator';
import { parseBoolean } from './parse.js';

/**
 * The metrics settings of the demo: the aggregator's (its address, and the store's variables, as
 * @kci-metrics/aggregator and @kci-metrics/sqlite-store read them) plus the demo's own fresh-start flag.
 */
export interface MetricsConfig extends AggregatorConfig {
  /**
   * `PROMETHEUS_METRICS_FRESH_START`, default `false`: whether a full restart (the primary opens the store
   * before any worker starts) clears stored values instead of continuing the totals.
   */
  freshStart: boolean;
}

/**
 * Read the metrics settings, in the primary, before anything starts. Throws a ConfigError naming the variable
 * and the value when one is invalid (the entry points' exit code 2).
 *
 * @example
 * loadMetricsConfig({ PROMETHEUS_METRICS_ENABLED: 'true' });
 * // { enabled: true, port: 8001, host: '0.0.0.0', multiprocDir: '/tmp/prometheus_multiproc_dir', flushIntervalMs: 1000, freshStart: false }
 */
export function loadMetricsConfig(env: Record<string, string | undefined> = process.env): MetricsConfig {
  return {
    ...loadAggregatorConfig(env),
    freshStart: parseBoolean('PROMETHEUS_METRICS_FRESH_START', env.PROMETHEUS_METRICS_FRESH_START, false),
  };
}
