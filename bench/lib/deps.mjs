/**
 * bench/ is not a workspace package, so it borrows the sqlite-store package's dependency graph: prom-client
 * and the store are resolved exactly as the store itself would resolve them (one prom-client instance).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(new URL('../../packages/sqlite-store/package.json', import.meta.url));

/** prom-client (CommonJS), the copy the store is built against. */
export const promClient = require('prom-client');

/** better-sqlite3, the store's copy (to look into a store's file). */
export const Database = require('better-sqlite3');

/**
 * The built @kci-metrics/sqlite-store (dist/). Fails with a clear message when it was not built.
 *
 * @example
 * const { openStore } = await loadStore();
 */
export async function loadStore(path = process.env.BENCH_STORE) {
  // The issue-3 workloads measure S series per metric (up to 10000): the store's per-metric series bound
  // (2000 by default, issue 16) would fold most of them. cardinality.mjs measures the bound itself.
  process.env.PROMETHEUS_METRICS_MAX_SERIES ??= '10000000';
  // BENCH_STORE=<path to a dist/index.js>: benchmark another build of the store (before/after a change).
  const entry = path || storeIndex();
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: build first (pnpm turbo run build --filter=@kci-metrics/sqlite-store...)`);
  }
  return import(pathToFileURL(entry).href);
}

/** This checkout's built @kci-metrics/sqlite-store entry (dist/index.js). */
export function storeIndex() {
  return require.resolve('@kci-metrics/sqlite-store');
}

/** A store logger that stays quiet (stdout carries JSON lines) but keeps count of what it would have said. */
export function countingLogger() {
  const logger = {
    warnings: 0,
    last: '',
    warn(message) {
      logger.warnings++;
      logger.last = message;
    },
    info() {},
  };
  return logger;
}
