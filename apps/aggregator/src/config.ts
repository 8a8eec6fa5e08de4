import { ConfigError, loadStoreConfig, type StoreConfig } from '@kci-metrics/sqlite-store';

/**
 * The aggregator's configuration, read from the environment: its own address, and the store's variables
 * (`PROMETHEUS_METRICS_ENABLED`, `PROMETHEUS_MULTIPROC_DIR`, ...) as @kci-metrics/sqlite-store reads them.
 */
export interface AggregatorConfig extends StoreConfig {
  /** `PROMETHEUS_METRICS_PORT`, default `8001`: the aggregator's port. */
  port: number;
  /** `PROMETHEUS_METRICS_HOST`, default `0.0.0.0`: the bind address (Prometheus in Docker needs all interfaces). */
  host: string;
}

export const DEFAULT_METRICS_PORT = 8001;
export const DEFAULT_METRICS_HOST = '0.0.0.0';

type Env = Record<string, string | undefined>;

/**
 * Read the aggregator's variables (the seed's names and defaults). Throws a ConfigError naming the variable
 * and the value when one is invalid, so a misconfigured aggregator fails at start-up (the command's exit code 2).
 *
 * @example
 * loadAggregatorConfig({ PROMETHEUS_METRICS_PORT: '9101' });
 * // { enabled: false, multiprocDir: '/tmp/prometheus_multiproc_dir', flushIntervalMs: 1000, port: 9101, host: '0.0.0.0' }
 */
export function loadAggregatorConfig(env: Env = process.env): AggregatorConfig {
  return {
    ...loadStoreConfig(env),
    port: parsePort('PROMETHEUS_METRICS_PORT', env.PROMETHEUS_METRICS_PORT, DEFAULT_METRICS_PORT),
    host: parseHost('PROMETHEUS_METRICS_HOST', env.PROMETHEUS_METRICS_HOST, DEFAULT_METRICS_HOST),
  };
}

function parsePort(key: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new ConfigError(key, raw, 'an integer 1-65535');
  return Number(v);
}

function parseHost(key: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim();
  if (!/^[A-Za-z0-9.:_\-[\]%]+$/.test(v)) throw new ConfigError(key, raw, 'an IP address or host name');
  return v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
}
