/**
 * Issue 5, section 2: the demo backend (three workers and the aggregator) takes a known number of requests
 * per route; a real Prometheus scrapes it with the repository's prometheus.yml (only the target and the
 * intervals rewritten) and loads alerts.yml; every expression of dashboard.json and alerts.yml is evaluated
 * through the HTTP API, and the numbers the panels show are the numbers that were sent.
 */
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoBackend, startDemoBackend } from './support/backend.js';
import { binaryOrSkip } from './support/binaries.js';
import { testPrometheusConfig } from './support/config.js';
import { alertRules, dashboardQueries, loadDashboard, substituteVariables } from './support/dashboard.js';
import { byEndpoint, panelByEndpoint, panelExpr, panelValue } from './support/panels.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { runPromtool } from './support/promtool.js';
import { endpointKey, expectedCalls, type PlannedRequests, sendPlanned, splitFirst } from './support/requests.js';
import { waitUntil } from './support/wait.js';

const prometheus = binaryOrSkip('prometheus');
const promtool = binaryOrSkip('promtool');

const WORKERS = 3;
/** Every route sleeps 1-5 ms times this (apps/backend/README.md), so no request is faster than 10 ms. */
const LATENCY_SCALE = 10;
const MIN_LATENCY_S = (1 * LATENCY_SCALE) / 1000;
/** A `slow` parameter adds one second (apps/backend/README.md). */
const SLOW_S = 1;
const UNMATCHED = '<unmatched>';

const get = (path: string, route: string, count: number, status = 200): PlannedRequests => ({
  method: 'GET',
  path,
  route,
  status,
  count,
});

// Parameterised routes with several parameter values each, a 404 from a matched route, 500s from thrown
// errors, one slow route, and URLs that match nothing (route="<unmatched>").
const PLAN: PlannedRequests[] = [
  get('/api/tree/', '/api/tree/', 12),
  get('/api/tree/5e1f2a9/summary', '/api/tree/:commitHash/summary', 4),
  get('/api/tree/9c0ffee/summary', '/api/tree/:commitHash/summary', 3),
  get('/api/tree/mainline/for-next/core/compare', '/api/tree/:treeName/*gitBranch/compare', 5),
  { method: 'POST', path: '/api/hardware/rk3588-rock-5b', route: '/api/hardware/:hardwareId', status: 200, count: 6 },
  get('/api/build/b1234', '/api/build/:buildId', 8),
  get('/api/build/b5678', '/api/build/:buildId', 4),
  get('/api/build/error', '/api/build/:buildId', 4, 500),
  get('/api/issue/i77', '/api/issue/:issueId', 4),
  get('/api/issue/missing', '/api/issue/:issueId', 2, 404),
  get('/api/test/slow', '/api/test/:testId', 2),
  get('/nope', UNMATCHED, 2, 404),
  get('/api/tree', UNMATCHED, 1, 404),
  get('/wp-login.php', UNMATCHED, 1, 404),
  { method: 'POST', path: '/api/tree/', route: UNMATCHED, status: 404, count: 1 },
];
const CALLS = expectedCalls(PLAN);
const UNMATCHED_CALLS = 5;
const SLOW_ENDPOINT = 'GET /api/test/:testId';

/** Panels and queries that must come back empty on a healthy backend with this traffic, and why. */
const EMPTY_ON_HEALTHY_BACKEND: Record<string, string> = {
  'annotation "Firing alerts"': 'alerts wait for their "for:" duration (minutes) before they fire',
};

describe.skipIf(!prometheus || !promtool)(
  'end to end: demo backend, aggregator, real Prometheus, dashboard and alerts',
  () => {
    let backend: DemoBackend;
    let prom: RunningPrometheus;
    const totalCalls = async () => panelByEndpoint(prom, 'Total Calls by Endpoint');
    const waitForCalls = async (expected: Record<string, number>, what: string) => {
      try {
        await waitUntil(
          async () => {
            const seen = await totalCalls();
            if (sameCounts(seen, expected)) return true;
            throw new Error(`Total Calls by Endpoint is ${JSON.stringify(seen)}`);
          },
          { what, timeoutMs: 60_000 },
        );
      } catch (error) {
        throw new Error(
          `${(error as Error).message}\n--- backend ---\n${backend.output()}\n--- prometheus ---\n${prom.logs()}`,
        );
      }
    };

    beforeAll(async () => {
      backend = await startDemoBackend({ workers: WORKERS, latencyScale: LATENCY_SCALE });
      prom = await startPrometheus(testPrometheusConfig({ targets: [backend.target] }));
      const [first, rest] = splitFirst(PLAN);
      // One request per line first, scraped, then the rest: the rate() panels need a series to exist
      // before it grows, as in production where a route's series is older than the last minute.
      await sendPlanned(backend.apiUrl, first);
      await waitForCalls(expectedCalls(first), 'the first requests in Prometheus');
      await sendPlanned(backend.apiUrl, rest);
      // A scrape after the workers' last flush (every 500 ms) has every request.
      await waitForCalls(CALLS, 'every request in Prometheus');
      // The steady state after the load: every worker flushing again (one starved of CPU for more than three
      // flush intervals during the load shows as stalled until its next flush).
      await waitUntil(async () => (await panelValue(prom, 'Live workers')) === WORKERS, {
        what: `${WORKERS} live writers`,
      });
    });
    afterAll(async () => {
      await prom?.stop();
      await backend?.stop();
    });

    it('Total Calls by Endpoint equals the requests sent per route, without the unmatched ones', async () => {
      expect(await totalCalls()).toEqual(CALLS);
      const raw = await prom.instant(
        `sum by (method, route) (http_request_duration_seconds_count{route="${UNMATCHED}"})`,
      );
      expect(byEndpoint(raw)).toEqual({ [`GET ${UNMATCHED}`]: UNMATCHED_CALLS - 1, [`POST ${UNMATCHED}`]: 1 });
    });

    it('Endpoint Performance Summary has one row per endpoint: calls, mean and total time', async () => {
      const calls = await panelByEndpoint(prom, 'Endpoint Performance Summary', 'A');
      const average = await panelByEndpoint(prom, 'Endpoint Performance Summary', 'B');
      const total = await panelByEndpoint(prom, 'Endpoint Performance Summary', 'C');
      expect(calls).toEqual(CALLS);
      expect(Object.keys(average).sort()).toEqual(Object.keys(CALLS).sort());
      expect(Object.keys(total).sort()).toEqual(Object.keys(CALLS).sort());
      for (const [endpoint, n] of Object.entries(CALLS)) {
        expect(average[endpoint], endpoint).toBeCloseTo((total[endpoint] as number) / n, 9);
        // Every request slept at least its route's synthetic latency; the histogram tops out at 10 s.
        const floor = endpoint === SLOW_ENDPOINT ? SLOW_S : MIN_LATENCY_S;
        expect(average[endpoint], endpoint).toBeGreaterThanOrEqual(floor * 0.99);
        expect(average[endpoint], endpoint).toBeLessThanOrEqual(10);
      }
    });

    it('Average Response Time by Endpoint is within the bucket range and shows the slow route', async () => {
      const average = await panelByEndpoint(prom, 'Average Response Time by Endpoint');
      expect(Object.keys(average).sort()).toEqual(Object.keys(CALLS).sort());
      for (const [endpoint, seconds] of Object.entries(average)) {
        expect(seconds, endpoint).toBeGreaterThan(0);
        expect(seconds, endpoint).toBeLessThanOrEqual(10);
      }
      // Over the last minute the slow route took one more request of at least a second: rate(_sum)/rate(_count)
      // is that request's time, give or take Prometheus's extrapolation at the window's edges.
      expect(average[SLOW_ENDPOINT]).toBeGreaterThan(SLOW_S * 0.8);
    });

    it('no per-endpoint panel shows the unmatched route, which stays in the raw metric', async () => {
      const raw = await prom.instant(`sum(http_request_duration_seconds_count{route="${UNMATCHED}"})`);
      expect(raw.map((s) => s.value)).toEqual([UNMATCHED_CALLS]);
      for (const title of [
        'Average Response Time by Endpoint',
        'Total Calls by Endpoint',
        'p50 latency by Endpoint',
        'p95 latency by Endpoint',
        'p99 latency by Endpoint',
        'Error ratio (5xx) by Endpoint',
        'Request rate by Endpoint',
      ]) {
        const routes = (await prom.instant(panelExpr(title))).map((s) => s.labels.route);
        expect(routes.length, title).toBeGreaterThan(0);
        expect(routes, title).not.toContain(UNMATCHED);
      }
      for (const ref of ['A', 'B', 'C']) {
        expect(Object.keys(await panelByEndpoint(prom, 'Endpoint Performance Summary', ref))).not.toContain(
          `GET ${UNMATCHED}`,
        );
      }
      const unmatchedPanel = await prom.instant(panelExpr('Requests matching no route'));
      expect(unmatchedPanel.map((s) => s.labels.status_code)).toEqual(['404']);
    });

    it('errors: only the route that threw has a 5xx ratio, and its alert expression selects it', async () => {
      const ratio = await panelByEndpoint(prom, 'Error ratio (5xx) by Endpoint');
      expect(Object.keys(ratio)).toEqual(['GET /api/build/:buildId']);
      expect(ratio['GET /api/build/:buildId']).toBeGreaterThan(0);
      expect(ratio['GET /api/build/:buildId']).toBeLessThan(1);
      const statuses = (await prom.instant(panelExpr('Responses by status code')))
        .map((s) => s.labels.status_code)
        .sort();
      expect(statuses).toEqual(['200', '404', '500']);
      // 3 of the last 14 requests of the route failed: above 5%, with enough traffic for the guard.
      const rule = alertRules().find((r) => r.alert === 'KciHighErrorRatio');
      const firing = await prom.instant(rule?.expr as string);
      expect(firing.map((s) => endpointKey(s.labels))).toEqual(['GET /api/build/:buildId']);
      // Prometheus loaded alerts.yml and evaluates it: the alert is pending (it fires after 5 minutes).
      const pending = await waitUntil(async () => (await prom.instant('ALERTS{alertname="KciHighErrorRatio"}'))[0], {
        what: 'KciHighErrorRatio to be pending',
      });
      expect(pending.labels).toMatchObject({ alertstate: 'pending', route: '/api/build/:buildId', job: 'kci-metrics' });
    });

    it('after the load: no request in flight, one live writer per worker, the aggregator up', async () => {
      expect(await panelValue(prom, 'Requests in flight')).toBe(0);
      expect(await panelValue(prom, 'Live workers')).toBe(WORKERS);
      expect(await panelValue(prom, 'Stalled workers')).toBe(0);
      expect(await panelValue(prom, 'Aggregators up')).toBe(1);
      expect(await panelValue(prom, 'Conflicting definitions')).toBe(0);
    });

    it('every dashboard query (Grafana variables substituted) and every alert expression evaluates, with data', async () => {
      const queries = [
        ...dashboardQueries(loadDashboard()).map((q) => ({ source: q.source, expr: substituteVariables(q.expr) })),
        ...alertRules().map((r) => ({ source: `alert ${r.alert}`, expr: r.expr })),
      ];
      const empty: string[] = [];
      for (const { source, expr } of queries) {
        const answer = await prom.query(expr);
        expect(answer, `${source}: ${expr}`).toMatchObject({ status: 'success', data: { resultType: 'vector' } });
        if (((answer.data?.result ?? []) as unknown[]).length === 0) empty.push(source);
      }
      // Alerts other than the error ratio stay silent on a healthy backend; every dashboard query has data.
      // The p95 latency alert may see a request slowed past 1 s by a busy test machine: either answer is right.
      const silentAlerts = alertRules()
        .filter((r) => !['KciHighErrorRatio', 'KciHighLatencyP95'].includes(r.alert))
        .map((r) => `alert ${r.alert}`);
      expect(empty.filter((source) => source !== 'alert KciHighLatencyP95').sort()).toEqual(
        [...silentAlerts, ...Object.keys(EMPTY_ON_HEALTHY_BACKEND)].sort(),
      );
    });

    it('Prometheus reads the gzip body as the aggregator sends it: one member per chunk, as one exposition', async () => {
      // What Prometheus asks for: gzip. Each chunk of the stored families (at least one per family, kept
      // while unchanged, issue 17) and the aggregator's own families are gzip members of their own; the
      // panels above are what Prometheus read from them.
      const { headers, body } = await rawGet(backend.metricsUrl, { 'Accept-Encoding': 'gzip' });
      expect(headers['content-encoding']).toBe('gzip');
      const text = gunzipSync(body).toString('utf8');
      const storedFamilies = text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE ') && !l.startsWith('# TYPE kci_metrics_'));
      expect(storedFamilies.length).toBeGreaterThan(10);
      expect(gzipMembers(body)).toBeGreaterThanOrEqual(storedFamilies.length + 1);
      expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/api/tree/",status_code="200"}');
      expect(text).toContain('\nkci_metrics_scrape_duration_seconds ');
      const up = await prom.query('up{job="kci-metrics"}');
      expect(((up.data?.result ?? []) as Array<{ value: [number, string] }>).map((r) => r.value[1])).toEqual(['1']);
      expect(await panelValue(prom, 'Aggregators up')).toBe(1);
    });

    it("promtool check metrics finds no problem in the aggregator's exposition", async () => {
      const response = await fetch(backend.metricsUrl);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
      const text = await response.text();
      expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/api/tree/",status_code="200"}');
      const result = await runPromtool(['check', 'metrics'], { input: text });
      expect(result, result.output).toEqual({ code: 0, output: '' });
    });
  },
);

/** GET without decompression (fetch would undo the gzip whose members the test counts). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The number of gzip members (RFC 1952) in a body: header, deflate stream (its length from zlib), trailer. */
function gzipMembers(body: Buffer): number {
  let members = 0;
  let at = 0;
  while (at < body.length) {
    expect(body.subarray(at, at + 3)).toEqual(Buffer.from([0x1f, 0x8b, 0x08]));
    expect(body[at + 3], 'no optional header fields (Node writes none)').toBe(0);
    const { engine } = inflateRawSync(body.subarray(at + 10), { info: true }) as unknown as {
      engine: { bytesWritten: number };
    };
    at += 10 + engine.bytesWritten + 8;
    members++;
  }
  return members;
}

function sameCounts(actual: Record<string, number>, expected: Record<string, number>): boolean {
  const keys = Object.keys(expected);
  return Object.keys(actual).length === keys.length && keys.every((k) => actual[k] === expected[k]);
}
