/**
 * The dashboard's cumulative panels evaluated by a real Prometheus that scrapes two "hosts" serving a known
 * exposition through the repository's prometheus.yml (targets, via file_sd, and intervals rewritten). The end-to-end test
 * with the demo backend does the same with real traffic; this one pins the arithmetic of the queries.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP_DURATION_BUCKETS, HTTP_DURATION_NAME, UNMATCHED_ROUTE } from '@kci-metrics/core';
import { Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryOrSkip } from './support/binaries.js';
import { fileSdTargets, testPrometheusConfig } from './support/config.js';
import { loadDashboard, type Panel, substituteVariables } from './support/dashboard.js';
import { type RunningPrometheus, type Sample, startPrometheus } from './support/prometheus.js';

const prometheus = binaryOrSkip('prometheus');

type Observation = [method: string, route: string, status: string, seconds: number[]];

const HOST_A: Observation[] = [
  ['GET', '/api/tree/', '200', [0.01, 0.02, 0.03]],
  ['GET', '/api/tree/', '500', [0.2]],
  ['POST', '/api/hardware/:hardwareId', '200', [1, 2]],
  ['GET', UNMATCHED_ROUTE, '404', [0.001, 0.001, 0.001, 0.001, 0.001]],
];
const HOST_B: Observation[] = [
  ['GET', '/api/tree/', '200', [0.04, 0.05]],
  ['GET', UNMATCHED_ROUTE, '404', [0.002]],
];

/** A loopback HTTP server answering /metrics/ with a fixed exposition rendered by prom-client. */
async function serveExposition(observations: Observation[]): Promise<Server> {
  const registry = new Registry();
  const histogram = new Histogram({
    name: HTTP_DURATION_NAME,
    help: 'Duration of HTTP requests in seconds',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [...HTTP_DURATION_BUCKETS],
    registers: [registry],
  });
  for (const [method, route, status_code, seconds] of observations) {
    for (const s of seconds) histogram.observe({ method, route, status_code }, s);
  }
  const text = await registry.metrics();
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/metrics/' ? 200 : 404, { 'content-type': registry.contentType });
    res.end(req.url === '/metrics/' ? text : 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const dashboard = loadDashboard();
const panel = (title: string): Panel => {
  const found = dashboard.panels.find((p) => p.title === title);
  if (!found) throw new Error(`No panel titled "${title}"`);
  return found;
};
const byEndpoint = (samples: Sample[]) =>
  Object.fromEntries(samples.map((s) => [`${s.labels.method} ${s.labels.route}`, s.value]));

describe.skipIf(!prometheus)('dashboard values over two scraped hosts', () => {
  let servers: Server[] = [];
  let prom: RunningPrometheus;
  const query = async (title: string, refIndex = 0) => {
    const expr = panel(title).targets?.[refIndex]?.expr as string;
    return byEndpoint(await prom.instant(substituteVariables(expr)));
  };

  beforeAll(async () => {
    servers = await Promise.all([serveExposition(HOST_A), serveExposition(HOST_B)]);
    const targets = servers.map((s) => `127.0.0.1:${(s.address() as AddressInfo).port}`);
    // The hosts come through file-based service discovery, written once Prometheus runs (as a fleet grows).
    const { config, files } = testPrometheusConfig({ fileSd: 'targets.json' });
    prom = await startPrometheus({ config, files: { ...files, 'targets.json': fileSdTargets([]) } });
    await prom.writeFile('targets.json', fileSdTargets([{ targets }]));
    // Prometheus hands new targets to the scrapers at most every 5 s, so the first scrape takes that long.
    await prom.waitForTargets(2);
  });
  afterAll(async () => {
    await prom?.stop();
    for (const s of servers) s.close();
  });

  it('Total Calls by Endpoint sums both hosts and leaves out the unmatched route', async () => {
    // The unmatched requests are in Prometheus; the panel must not show them.
    const unmatched = await prom.instant(`sum(http_request_duration_seconds_count{route="${UNMATCHED_ROUTE}"})`);
    expect(unmatched.map((s) => s.value)).toEqual([6]);
    expect(await query('Total Calls by Endpoint')).toEqual({
      'GET /api/tree/': 6,
      'POST /api/hardware/:hardwareId': 2,
    });
  });

  it('Endpoint Performance Summary gives calls, mean and cumulative time per endpoint', async () => {
    const calls = await query('Endpoint Performance Summary', 0);
    const average = await query('Endpoint Performance Summary', 1);
    const total = await query('Endpoint Performance Summary', 2);
    expect(calls).toEqual({ 'GET /api/tree/': 6, 'POST /api/hardware/:hardwareId': 2 });
    expect(total['GET /api/tree/']).toBeCloseTo(0.35, 9);
    expect(total['POST /api/hardware/:hardwareId']).toBeCloseTo(3, 9);
    expect(average['GET /api/tree/']).toBeCloseTo(0.35 / 6, 9);
    expect(average['POST /api/hardware/:hardwareId']).toBeCloseTo(1.5, 9);
    expect(Object.keys(average)).toHaveLength(2);
  });

  it('the overview counts every host as up', async () => {
    const [up] = await prom.instant(substituteVariables(panel('Aggregators up').targets?.[0]?.expr as string));
    expect(up?.value).toBe(2);
  });
});
