/**
 * The worker's metrics wiring, loaded only when PROMETHEUS_METRICS_ENABLED is true: with metrics off the
 * worker never imports prom-client, the adapters or the store (issue #4: "no metrics code runs on the
 * request path").
 */
import type { MetricsStore } from '@kci-metrics/sqlite-store';
import type { RequestHandler } from 'express';
import type { Middleware } from 'koa';
import type { Registry } from 'prom-client';
import type { Framework } from './config.js';
import type { MetricsConfig } from './metrics-config.js';
import { traceExemplar } from './traceparent.js';

export interface WorkerMetrics {
  /** The adapter middleware of the chosen framework. */
  middleware: Middleware | RequestHandler;
  /** Flush the last values and close the store (at the end of a drain). Never throws. */
  close(): void;
}

// A store that cannot be opened (directory removed, disk full) is retried this often; the registry keeps
// counting meanwhile, so nothing recorded before the store comes back is lost.
const RETRY_MS = 5_000;

/**
 * Create the adapter middleware for `framework` and persist its registry to the store every flush interval.
 * The store failing never fails a request: opening is retried in the background.
 *
 * @example
 * const metrics = await setupWorkerMetrics('koa', loadMetricsConfig());
 * const app = createKoaApp({ metrics: metrics.middleware as Koa.Middleware });
 */
export async function setupWorkerMetrics(framework: Framework, config: MetricsConfig): Promise<WorkerMetrics> {
  // Exemplars: each request's latency observation carries the trace id of its `traceparent` header.
  const middleware =
    framework === 'koa'
      ? (await import('@kci-metrics/koa')).koaMetrics({ defaultMetrics: true, exemplars: traceExemplar })
      : (await import('@kci-metrics/express')).expressMetrics({ defaultMetrics: true, exemplars: traceExemplar });
  const { openStore } = await import('@kci-metrics/sqlite-store');
  const link = new StoreLink(middleware.registry, () =>
    openStore({ dir: config.multiprocDir, flushIntervalMs: config.flushIntervalMs }),
  );
  link.open();
  return { middleware, close: () => link.close() };
}

class StoreLink {
  private store: MetricsStore | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly registry: Registry,
    private readonly openStore: () => MetricsStore,
  ) {}

  open(): void {
    if (this.closed) return;
    try {
      const store = this.openStore();
      store.attach(this.registry);
      this.store = store;
      if (this.failures > 0) console.warn(`[backend] worker ${process.pid}: metrics store available again`);
    } catch (error) {
      // Logged once, not every retry: a broken store must not flood the logs either.
      if (this.failures++ === 0) {
        console.error(
          `[backend] worker ${process.pid}: metrics store unavailable, requests are still served: ${message(error)}`,
        );
      }
      this.retry = setTimeout(() => this.open(), RETRY_MS);
      this.retry.unref();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    try {
      this.store?.close();
    } catch (error) {
      console.error(`[backend] worker ${process.pid}: closing the metrics store failed: ${message(error)}`);
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
