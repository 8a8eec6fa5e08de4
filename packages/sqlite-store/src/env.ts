import { resolve } from 'node:path';
import { parseMaxSeries } from './cardinality.js';
import { ConfigError } from './errors.js';

/** The store's part of the environment contract, as {@link loadStoreConfig} reads it. */
export interface StoreConfig {
  /** `PROMETHEUS_METRICS_ENABLED`, default `false`: whether the processes record into the store at all. */
  enabled: boolean;
  /** `PROMETHEUS_MULTIPROC_DIR`, default `/tmp/prometheus_multiproc_dir`: the store directory, made absolute. */
  multiprocDir: string;
  /** `PROMETHEUS_METRICS_FLUSH_INTERVAL_MS`, default `1000`: how often workers persist their values. */
  flushIntervalMs: number;
  /** `PROMETHEUS_METRICS_MAX_SERIES`, default `2000`: series kept per metric, its overflow series included. */
  maxSeries: number;
}

export const DEFAULT_MULTIPROC_DIR = '/tmp/prometheus_multiproc_dir';
export const DEFAULT_FLUSH_INTERVAL_MS = 1000;

type Env = Record<string, string | undefined>;

/**
 * Read the store's variables (the seed's names and defaults). The one parse of them: `openStore()` and
 * `attachFromEnv()` use it, and so do the aggregator and the demo backend. Throws a {@link ConfigError} naming
 * the variable and the value when one is invalid, so a misconfigured process fails at start-up.
 *
 * @example
 * loadStoreConfig({ PROMETHEUS_METRICS_ENABLED: 'true' });
 * // { enabled: true, multiprocDir: '/tmp/prometheus_multiproc_dir', flushIntervalMs: 1000, maxSeries: 2000 }
 */
export function loadStoreConfig(env: Env = process.env): StoreConfig {
  return {
    enabled: envEnabled(env),
    multiprocDir: envMultiprocDir(env),
    flushIntervalMs: envFlushIntervalMs(env),
    maxSeries: envMaxSeries(env),
  };
}

/** `PROMETHEUS_METRICS_ENABLED`: true/false, 1/0, yes/no, on/off in any case; unset or empty is false. */
export function envEnabled(env: Env): boolean {
  const raw = env.PROMETHEUS_METRICS_ENABLED;
  if (raw === undefined || raw.trim() === '') return false;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError('PROMETHEUS_METRICS_ENABLED', raw, 'true or false');
}

/** `PROMETHEUS_MULTIPROC_DIR`, made absolute; unset or empty is {@link DEFAULT_MULTIPROC_DIR}. */
export function envMultiprocDir(env: Env): string {
  const raw = env.PROMETHEUS_MULTIPROC_DIR;
  if (raw === undefined || raw.trim() === '') return DEFAULT_MULTIPROC_DIR;
  if (raw.includes('\0')) throw new ConfigError('PROMETHEUS_MULTIPROC_DIR', raw, 'a directory path');
  return resolve(raw.trim());
}

/** `PROMETHEUS_METRICS_FLUSH_INTERVAL_MS`, 10-3600000; unset or empty is {@link DEFAULT_FLUSH_INTERVAL_MS}. */
export function envFlushIntervalMs(env: Env): number {
  const raw = env.PROMETHEUS_METRICS_FLUSH_INTERVAL_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_FLUSH_INTERVAL_MS;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < MIN_FLUSH_MS || Number(v) > MAX_FLUSH_MS) {
    throw new ConfigError('PROMETHEUS_METRICS_FLUSH_INTERVAL_MS', raw, `an integer ${MIN_FLUSH_MS}-${MAX_FLUSH_MS}`);
  }
  return Number(v);
}

/** `PROMETHEUS_METRICS_MAX_SERIES`, 1-10000000; unset or empty is {@link DEFAULT_MAX_SERIES}. */
export function envMaxSeries(env: Env): number {
  return parseMaxSeries(env.PROMETHEUS_METRICS_MAX_SERIES);
}

export const MIN_FLUSH_MS = 10;
export const MAX_FLUSH_MS = 3_600_000;

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);
