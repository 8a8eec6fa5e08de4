/** The primary's part of the metrics: check the store once before any worker starts, then run the aggregator. */

import { AGGREGATOR_MAIN, parseAuthConfig } from '@kci-metrics/aggregator';
import { openStore } from '@kci-metrics/sqlite-store';
import { type AggregatorProcess, superviseAggregator } from './aggregator-process.js';
import { StartupError } from './errors.js';
import type { MetricsConfig } from './metrics-config.js';

/**
 * Validate the aggregator's variables, open the store once (so a bad PROMETHEUS_MULTIPROC_DIR fails here,
 * with one clear line, rather than in every worker; with PROMETHEUS_METRICS_FRESH_START it also clears the
 * old values), then fork the aggregator.
 *
 * @example
 * const aggregator = prepareMetrics(process.env, loadMetricsConfig(), (code) => shutdown(code));
 */
export function prepareMetrics(
  env: NodeJS.ProcessEnv,
  config: MetricsConfig,
  onFatal: (exitCode: number) => void,
): AggregatorProcess {
  parseAuthConfig(env); // throws a ConfigError naming the variable, as loadMetricsConfig does
  try {
    // openStore() leaves I/O failures to its retries (workers must never crash on them); health() reads
    // the store now, so an unusable directory stops the start-up here instead.
    const store = openStore({ dir: config.multiprocDir, fresh: config.freshStart });
    try {
      store.health();
    } finally {
      store.close();
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError(
      `cannot open the metrics store in PROMETHEUS_MULTIPROC_DIR=${config.multiprocDir}: ${reason}`,
    );
  }
  return superviseAggregator(AGGREGATOR_MAIN, onFatal);
}
