/**
 * HTTP helpers for the Koa and Express adapters' tests (one copy for both: the conformance suite compares
 * the two adapters, so they must be driven and read the same way).
 */
import { once } from 'node:events';
import { createServer, type RequestListener, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What these helpers read of a prom-client Registry (typed here by shape, so this private package, shared
 * by the Koa and Express adapters' tests, needs no prom-client of its own).
 */
export interface Registry {
  getMetricsAsJSON(): Promise<
    { name: string; values: { labels: Partial<Record<string, string | number>>; value: number }[] }[]
  >;
}

/** A real HTTP server on an ephemeral loopback port. */
export async function listen(
  handler: RequestListener,
): Promise<{ base: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return { base, server, close };
}

export interface Series {
  labels: Record<string, string | number>;
  count: number;
  sum: number;
}

/** Every series of a histogram (by default `http_request_duration_seconds`), sorted for stable comparison. */
export async function series(registry: Registry, name = 'http_request_duration_seconds'): Promise<Series[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) return [];
  const out = new Map<string, Series>();
  for (const v of metric.values as { labels: Record<string, string | number>; value: number; metricName?: string }[]) {
    const labels = Object.fromEntries(Object.entries(v.labels).filter(([k]) => k !== 'le'));
    const key = JSON.stringify(Object.entries(labels).sort());
    const s = out.get(key) ?? { labels, count: 0, sum: 0 };
    if (v.metricName === `${name}_count`) s.count = v.value;
    if (v.metricName === `${name}_sum`) s.sum = v.value;
    out.set(key, s);
  }
  return [...out.values()].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

/** Requests in flight according to `http_server_active_requests`. */
export async function active(registry: Registry, prefix = ''): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === `${prefix}http_server_active_requests`);
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

/**
 * Wait until every request has been recorded. A client can read the whole response a moment before the
 * server sees 'finish', so tests wait for the in-flight gauge to drain instead of asserting at once.
 */
export async function settled(registry: Registry, prefix = ''): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await active(registry, prefix)) === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('requests still in flight after 2 s');
}

/** A real client that sends a GET and destroys its socket as soon as the first body bytes arrive. */
export function abortMidBody(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

/** A real client that sends a GET and destroys its socket before any response arrives. */
export function abortBeforeResponse(url: string, started: Promise<unknown>): Promise<void> {
  const req = request(url);
  req.on('error', () => {}); // the hang-up is the point
  req.end();
  return started.then(() => {
    req.destroy();
  });
}
