import { ConfigError } from '@kci-metrics/core';
import { parseInteger } from './parse.js';

/** The frameworks the demo can serve its routes with. */
export const FRAMEWORKS = ['koa', 'express'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** How the demo backend runs, read from the environment (the metrics settings: metrics-config.ts). */
export interface BackendConfig {
  /** `BACKEND_PORT`, default 8000; 0 picks a free port (printed at start-up). */
  port: number;
  /** `BACKEND_HOST`, default `0.0.0.0`. */
  host: string;
  /** `WEB_CONCURRENCY`, default 2: the number of worker processes, 1-64. */
  workers: number;
  /** `BACKEND_FRAMEWORK`, default `koa`: `koa` (Koa + @koa/router) or `express` (Express 5). */
  framework: Framework;
  /** `BACKEND_LATENCY_SCALE`, default 1: multiplies each route's synthetic latency (1-5 ms); 0 disables it. */
  latencyScale: number;
  /** `BACKEND_DRAIN_TIMEOUT_MS`, default 10000: how long SIGTERM waits for in-flight requests before closing them. */
  drainTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

/**
 * Read and validate the backend's own variables. Throws a ConfigError naming the variable and the value,
 * which the entry point turns into exit code 2.
 *
 * @example
 * readBackendConfig({ WEB_CONCURRENCY: '4', BACKEND_FRAMEWORK: 'express' });
 * // { port: 8000, host: '0.0.0.0', workers: 4, framework: 'express', latencyScale: 1, drainTimeoutMs: 10000 }
 */
export function readBackendConfig(env: Env = process.env): BackendConfig {
  return {
    port: parseInteger('BACKEND_PORT', env.BACKEND_PORT, 8000, 0, 65535),
    host: parseHost('BACKEND_HOST', env.BACKEND_HOST, '0.0.0.0'),
    workers: parseInteger('WEB_CONCURRENCY', env.WEB_CONCURRENCY, 2, 1, 64),
    framework: parseFramework(env.BACKEND_FRAMEWORK),
    latencyScale: parseScale(env.BACKEND_LATENCY_SCALE),
    drainTimeoutMs: parseInteger('BACKEND_DRAIN_TIMEOUT_MS', env.BACKEND_DRAIN_TIMEOUT_MS, 10_000, 100, 600_000),
  };
}

function parseFramework(raw: string | undefined): Framework {
  if (raw === undefined || raw.trim() === '') return 'koa';
  const v = raw.trim().toLowerCase();
  if ((FRAMEWORKS as readonly string[]).includes(v)) return v as Framework;
  throw new ConfigError('BACKEND_FRAMEWORK', raw, FRAMEWORKS.join(' or '));
}

function parseScale(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 1;
  const v = raw.trim();
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n > 1000) throw new ConfigError('BACKEND_LATENCY_SCALE', raw, 'a number 0-1000');
  return n;
}

function parseHost(key: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim();
  if (!/^[A-Za-z0-9.:_\-[\]%]+$/.test(v)) throw new ConfigError(key, raw, 'an IP address or host name');
  return v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
}
