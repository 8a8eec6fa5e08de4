import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** Configuration shared by the workers, the store and the aggregator, read from the environment. */
export interface MetricsConfig {
  /** `PROMETHEUS_METRICS_ENABLED`, default `false`. */
  enabled: boolean;
  /** `PROMETHEUS_METRICS_PORT`, default `8001`: the aggregator's port. */
  port: number;
  /** `PROMETHEUS_METRICS_HOST`, default `0.0.0.0`: the aggregator's bind address (Prometheus in Docker needs all interfaces). */
  host: string;
  /** `PROMETHEUS_MULTIPROC_DIR`, default `/tmp/prometheus_multiproc_dir`: the store directory, made absolute. */
  multiprocDir: string;
  /** `PROMETHEUS_METRICS_FLUSH_INTERVAL_MS`, default `1000`: how often workers persist their values. */
  flushIntervalMs: number;
  /**
   * `PROMETHEUS_METRICS_FRESH_START`, default `false`: whether a full restart (the process that opens the
   * store before any worker starts) clears stored values instead of continuing the totals.
   */
  freshStart: boolean;
}

export const DEFAULT_METRICS_PORT = 8001;
export const DEFAULT_METRICS_HOST = '0.0.0.0';
export const DEFAULT_MULTIPROC_DIR = '/tmp/prometheus_multiproc_dir';
export const DEFAULT_FLUSH_INTERVAL_MS = 1000;

type Env = Record<string, string | undefined>;

/**
 * Read the metrics configuration from the environment (the seed's variable names and defaults).
 * Throws a {@link ConfigError} naming the variable and the value when one is invalid, so a
 * misconfigured process fails at start-up rather than serving wrong metrics.
 *
 * @example
 * const config = loadConfig(); // { enabled: false, port: 8001, multiprocDir: '/tmp/prometheus_multiproc_dir', ... }
 */
export function loadConfig(env: Env = process.env): MetricsConfig {
  return {
    enabled: parseBoolean('PROMETHEUS_METRICS_ENABLED', env.PROMETHEUS_METRICS_ENABLED, false),
    port: parseInteger('PROMETHEUS_METRICS_PORT', env.PROMETHEUS_METRICS_PORT, DEFAULT_METRICS_PORT, 1, 65535),
    host: parseHost('PROMETHEUS_METRICS_HOST', env.PROMETHEUS_METRICS_HOST, DEFAULT_METRICS_HOST),
    multiprocDir: parseDir('PROMETHEUS_MULTIPROC_DIR', env.PROMETHEUS_MULTIPROC_DIR, DEFAULT_MULTIPROC_DIR),
    flushIntervalMs: parseInteger(
      'PROMETHEUS_METRICS_FLUSH_INTERVAL_MS',
      env.PROMETHEUS_METRICS_FLUSH_INTERVAL_MS,
      DEFAULT_FLUSH_INTERVAL_MS,
      10,
      3_600_000,
    ),
    freshStart: parseBoolean('PROMETHEUS_METRICS_FRESH_START', env.PROMETHEUS_METRICS_FRESH_START, false),
  };
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Parse a boolean variable: true/false, 1/0, yes/no, on/off in any case; unset or empty gives `fallback`. */
export function parseBoolean(key: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError(key, raw, 'true or false');
}

/** Parse a decimal integer variable within [min, max]; unset or empty gives `fallback`. */
export function parseInteger(key: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ConfigError(key, raw, `an integer ${min}-${max}`);
  }
  return Number(v);
}

function parseHost(key: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim();
  if (!/^[A-Za-z0-9.:_\-[\]%]+$/.test(v)) throw new ConfigError(key, raw, 'an IP address or host name');
  return v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
}

function parseDir(key: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw.trim() === '') return fallback;
  if (raw.includes('\0')) throw new ConfigError(key, raw, 'a directory path');
  return resolve(raw.trim());
}
