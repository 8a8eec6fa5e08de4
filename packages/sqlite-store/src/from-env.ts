import type { Registry } from 'prom-client';
import { loadStoreConfig } from './env.js';
import { openStore } from './store.js';
import type { MetricsStore, StoreLogger } from './types.js';

export interface AttachFromEnvOptions {
  /** Where the variables come from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Where the store reports its trouble. Default: the console, prefixed with `[kci-metrics]`. */
  logger?: StoreLogger;
}

/**
 * Apply the environment contract in a worker: when `PROMETHEUS_METRICS_ENABLED` is true, open the store in
 * `PROMETHEUS_MULTIPROC_DIR` and attach `registry` to it (persisted every `PROMETHEUS_METRICS_FLUSH_INTERVAL_MS`
 * and at exit), returning the store; when it is false or unset, do nothing and return undefined.
 *
 * `PROMETHEUS_METRICS_FRESH_START` is not applied here: clearing belongs to the one process that starts
 * before every worker (`openStore({ fresh: true })`), never to each worker. Throws a ConfigError naming the
 * variable and the value when one is invalid, and a StoreError (`STORE_UNSAFE_DIR`) for a directory that is
 * not safely ours, so a misconfigured app fails at start-up instead of recording nothing.
 *
 * @example
 * const metrics = expressMetrics();
 * if (attachFromEnv(metrics.registry)) app.use(metrics);
 */
export function attachFromEnv(registry: Registry, options: AttachFromEnvOptions = {}): MetricsStore | undefined {
  const config = loadStoreConfig(options.env ?? process.env);
  if (!config.enabled) return undefined;
  const store = openStore({
    dir: config.multiprocDir,
    flushIntervalMs: config.flushIntervalMs,
    ...(options.logger ? { logger: options.logger } : {}),
    maxSeries: config.maxSeries,
  });
  store.attach(registry);
  return store;
}
