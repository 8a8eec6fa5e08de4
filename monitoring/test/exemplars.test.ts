/**
 * Issue 16 §1, proven with a real Prometheus: the demo backend (two node:cluster workers) records an
 * exemplar with each request's W3C trace id; the aggregator merges them; Prometheus, started with
 * `--enable-feature=exemplar-storage` and the repository's prometheus.yml, scrapes the aggregator (it
 * negotiates OpenMetrics, the only format with exemplars), and `/api/v1/query_exemplars` returns exemplars
 * whose trace ids were served by two different worker processes. The dashboard's latency panel asks for
 * them (its query's exemplar toggle).
 */

import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoBackend, startDemoBackend } from './support/backend.js';
import { binaryOrSkip } from './support/binaries.js';
import { testPrometheusConfig } from './support/config.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { waitUntil } from './support/wait.js';

const prometheus = binaryOrSkip('prometheus');

const ROUTES = [
  ['/api/tree/', '/api/tree/'],
  ['/api/build/b1', '/api/build/:buildId'],
  ['/api/issue/i1', '/api/issue/:issueId'],
  ['/api/test/t1', '/api/test/:testId'],
  ['/api/tree/abc/summary', '/api/tree/:commitHash/summary'],
  ['/api/build/b2', '/api/build/:buildId'],
] as const;

interface Served {
  traceId: string;
  route: string;
  pid: string;
}

/** One GET on a connection of its own (node:cluster hands each connection to the next worker), with a traceparent. */
function get(base: string, path: string, traceId: string): Promise<{ status: number; pid: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { agent: false, headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, pid: String(res.headers['x-backend-worker'] ?? '') }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

describe.skipIf(!prometheus)('exemplars: demo workers, aggregator, real Prometheus with exemplar storage', () => {
  let backend: DemoBackend;
  let prom: RunningPrometheus;
  const served: Served[] = [];
  const start = Date.now() / 1000 - 60;

  beforeAll(async () => {
    backend = await startDemoBackend({ workers: 2 });
    const config = testPrometheusConfig({ targets: [backend.target], rules: false });
    prom = await startPrometheus({ ...config, args: ['--enable-feature=exemplar-storage'] });
    await prom.waitForTargets(1);
    // Three rounds, each over every route, one connection per request: the workers take turns, and each
    // round's exemplars are scraped before the next round replaces them.
    for (let round = 0; round < 3; round++) {
      for (const [path, route] of ROUTES) {
        const traceId = randomBytes(16).toString('hex');
        const { status, pid } = await get(backend.apiUrl, path, traceId);
        expect(status, path).toBeLessThan(500);
        served.push({ traceId, route, pid });
      }
      await new Promise((r) => setTimeout(r, 2500)); // a flush (500 ms) and a scrape (1 s) later
    }
  });
  afterAll(async () => {
    await prom?.stop();
    await backend?.stop();
  });

  it('query_exemplars returns exemplars of requests served by two different worker processes', async () => {
    expect(new Set(served.map((s) => s.pid)).size).toBe(2);
    const byTrace = new Map(served.map((s) => [s.traceId, s]));
    let series: ExemplarSeries[] = [];
    try {
      await waitUntil(
        async () => {
          const r = await prom.api<ExemplarSeries[]>('/api/v1/query_exemplars', {
            query: 'http_request_duration_seconds_bucket',
            start: String(start),
            end: String(Date.now() / 1000 + 60),
          });
          if (r.status !== 'success') throw new Error(`query_exemplars: ${r.error}`);
          series = r.data ?? [];
          const pids = new Set(
            series.flatMap((s) => s.exemplars.map((e) => byTrace.get(e.labels.trace_id ?? '')?.pid)).filter(Boolean),
          );
          if (pids.size >= 2) return true;
          throw new Error(`exemplars from ${pids.size} worker(s): ${JSON.stringify(series).slice(0, 500)}`);
        },
        { what: 'exemplars of both workers in Prometheus', timeoutMs: 30_000 },
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\n--- backend ---\n${backend.output()}\n--- prometheus ---\n${prom.logs()}`,
      );
    }
    const exemplars = series.flatMap((s) => s.exemplars);
    const workers = new Set(exemplars.map((e) => byTrace.get(e.labels.trace_id ?? '')?.pid));
    console.log(
      `EXEMPLARS ${JSON.stringify({ requests: served.length, series: series.length, exemplars: exemplars.length, workers: workers.size })}`,
    );
    for (const s of series) {
      for (const e of s.exemplars) {
        // Every exemplar is one of our requests, on its own route's series, in the bucket its value falls in.
        const request = byTrace.get(e.labels.trace_id ?? '');
        expect(request, JSON.stringify(e)).toBeDefined();
        expect(s.seriesLabels.route).toBe(request?.route);
        const le = s.seriesLabels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.seriesLabels.le);
        expect(Number(e.value)).toBeLessThanOrEqual(le);
        expect(e.timestamp).toBeGreaterThan(start);
      }
    }
  });

  it('Prometheus scraped the aggregator in OpenMetrics, and the text format it serves carries no exemplar', async () => {
    const om = await fetch(backend.metricsUrl, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(om.headers.get('content-type')).toContain('application/openmetrics-text');
    expect(await om.text()).toMatch(/^http_request_duration_seconds_bucket\{.*\} \d+ # \{trace_id="[0-9a-f]{32}"\} /m);
    const text = await (await fetch(backend.metricsUrl, { headers: { accept: 'text/plain' } })).text();
    expect(text).toContain('http_request_duration_seconds_bucket{');
    expect(text).not.toContain('trace_id');
  });
});
