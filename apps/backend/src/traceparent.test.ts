import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@kci-metrics/sqlite-store';
import type { RequestHandler } from 'express';
import type Koa from 'koa';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createExpressApp } from './express-app.js';
import { createKoaApp } from './koa-app.js';
import { loadMetricsConfig } from './metrics-config.js';
import { traceIdOf } from './traceparent.js';
import { setupWorkerMetrics } from './worker-metrics.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceIdOf', () => {
  // Valid and invalid headers from the W3C Trace Context spec (https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers).
  it.each([
    [`00-${TRACE_ID}-00f067aa0ba902b7-01`, TRACE_ID],
    [`00-${TRACE_ID}-00f067aa0ba902b7-00`, TRACE_ID],
    [` 00-${TRACE_ID}-00f067aa0ba902b7-01 `, TRACE_ID], // optional whitespace around a header value
    [`01-${TRACE_ID}-00f067aa0ba902b7-01-what-the-future-holds`, TRACE_ID], // a later version may add fields
  ])('reads %j', (header, expected) => {
    expect(traceIdOf(header)).toBe(expected);
  });

  it.each([
    undefined,
    '',
    'garbage',
    `00-${TRACE_ID}-00f067aa0ba902b7-01-extra`, // version 00 has exactly four fields
    `ff-${TRACE_ID}-00f067aa0ba902b7-01`, // version ff is invalid
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace id
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`, // all-zero parent id
    `00-${TRACE_ID.toUpperCase()}-00f067aa0ba902b7-01`, // upper-case hex is invalid
    `00-${TRACE_ID.slice(1)}-00f067aa0ba902b7-01`,
    [`00-${TRACE_ID}-00f067aa0ba902b7-01`, `00-${TRACE_ID}-00f067aa0ba902b7-01`], // sent twice
  ])('gives no trace id for %j', (header) => {
    expect(traceIdOf(header)).toBeUndefined();
  });
});

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function listen(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe.each(['koa', 'express'] as const)('the demo worker (%s) with metrics on', (framework) => {
  it('records the traceparent trace id as the exemplar of the request, and the store still takes the histogram', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kci-exemplars-'));
    dirs.push(dir);
    const config = loadMetricsConfig({ PROMETHEUS_METRICS_ENABLED: 'true', PROMETHEUS_MULTIPROC_DIR: dir });
    const metrics = await setupWorkerMetrics(framework, config);
    const base = await listen(
      framework === 'koa'
        ? createKoaApp({ latencyScale: 0, metrics: metrics.middleware as Koa.Middleware }).callback()
        : createExpressApp({ latencyScale: 0, metrics: metrics.middleware as RequestHandler }),
    );
    const traced = await fetch(`${base}/api/tree/`, { headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } });
    expect(traced.status).toBe(200);
    await traced.arrayBuffer();
    const plain = await fetch(`${base}/api/tree/`, { headers: { traceparent: 'malformed' } });
    await plain.arrayBuffer();
    const registry = (metrics.middleware as unknown as { registry: Registry }).registry;
    const lines = (await registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('http_request_duration_seconds_bucket') && l.includes(' # '));
    expect(lines).toHaveLength(1); // the malformed header gave none
    expect(lines[0]).toMatch(
      new RegExp(`route="/api/tree/",status_code="200"\\} \\d+ # \\{trace_id="${TRACE_ID}"\\} [0-9.e-]+ [0-9.]+$`),
    );
    metrics.close(); // the last flush
    const store = openStore({ dir });
    try {
      expect(await store.metrics()).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/tree\/"[^}]*\} 2/);
    } finally {
      store.close();
    }
  });
});
