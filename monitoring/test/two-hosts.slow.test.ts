/**
 * Issue 5, section 3: two "hosts", each a demo backend with its own workers, store and aggregator, scraped
 * by one real Prometheus through file-based service discovery (the repository's prometheus.yml with
 * file_sd_configs in place of the static target). The dashboard's per-endpoint queries add up the hosts,
 * and the Host variable narrows them to one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoBackend, startDemoBackend } from './support/backend.js';
import { binaryOrSkip } from './support/binaries.js';
import { fileSdTargets, testPrometheusConfig } from './support/config.js';
import { dashboardQueries, loadDashboard, substituteVariables } from './support/dashboard.js';
import { byEndpoint, panelByEndpoint, panelExpr, panelValue } from './support/panels.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { expectedCalls, type PlannedRequests, sendPlanned, sumCalls } from './support/requests.js';
import { waitUntil } from './support/wait.js';

const prometheus = binaryOrSkip('prometheus');

const UNMATCHED = '<unmatched>';
const get = (path: string, route: string, count: number, status = 200): PlannedRequests => ({
  method: 'GET',
  path,
  route,
  status,
  count,
});

const HOST_A: PlannedRequests[] = [
  get('/api/tree/', '/api/tree/', 5),
  get('/api/build/b1', '/api/build/:buildId', 3),
  get('/api/build/error', '/api/build/:buildId', 1, 500),
  get('/api/tree/mainline/master/commits', '/api/tree/:treeName/:gitBranch/commits', 2),
  get('/favicon.ico', UNMATCHED, 2, 404),
];
const HOST_B: PlannedRequests[] = [
  get('/api/tree/', '/api/tree/', 4),
  get('/api/build/b2', '/api/build/:buildId', 2),
  {
    method: 'POST',
    path: '/api/hardware/imx8mp-evk/boots',
    route: '/api/hardware/:hardwareId/boots',
    status: 200,
    count: 3,
  },
  get('/.env', UNMATCHED, 1, 404),
];
const CALLS_A = expectedCalls(HOST_A);
const CALLS_B = expectedCalls(HOST_B);
const CALLS = sumCalls(CALLS_A, CALLS_B);

/** A value for a Grafana multi-value variable, escaped as Grafana escapes it for a Prometheus regex matcher. */
const grafanaRegex = (value: string) => value.replace(/[\\^$*+?.()|[\]{}]/g, '\\\\$&');

describe.skipIf(!prometheus)('two hosts scraped through file-based service discovery', () => {
  let hosts: DemoBackend[] = [];
  let prom: RunningPrometheus;
  const hostA = () => hosts[0] as DemoBackend;
  const hostB = () => hosts[1] as DemoBackend;

  beforeAll(async () => {
    const { config, files } = testPrometheusConfig({ fileSd: 'targets.json' });
    const started = await Promise.allSettled([
      startDemoBackend({ workers: 2 }),
      startDemoBackend({ workers: 1 }),
      startPrometheus({ config, files: { ...files, 'targets.json': fileSdTargets([]) } }),
    ]);
    hosts = started.flatMap((s, i) => (i < 2 && s.status === 'fulfilled' ? [s.value as DemoBackend] : []));
    if (started[2].status === 'fulfilled') prom = started[2].value;
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;

    // The hosts join as a fleet grows: through the target file, with no restart or reload of Prometheus.
    await prom.writeFile(
      'targets.json',
      fileSdTargets([{ targets: hosts.map((h) => h.target), labels: { env: 'test' } }]),
    );
    await prom.waitForTargets(2);
    await Promise.all([sendPlanned(hostA().apiUrl, HOST_A), sendPlanned(hostB().apiUrl, HOST_B)]);
    await waitUntil(
      async () => {
        const seen = await panelByEndpoint(prom, 'Total Calls by Endpoint');
        if (JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(CALLS).sort())) return true;
        throw new Error(`Total Calls by Endpoint is ${JSON.stringify(seen)}`);
      },
      { what: "both hosts' requests in Prometheus" },
    );
    // Every worker flushing again after the load (a worker starved of CPU for a moment shows as stalled).
    await waitUntil(async () => (await panelValue(prom, 'Live workers')) === 3, { what: '3 live writers' });
  });
  afterAll(async () => {
    await prom?.stop();
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('each host keeps its own counts (its own store)', async () => {
    const perHost = await prom.instant(
      'sum by (instance, method, route) (http_request_duration_seconds_count{route!="<unmatched>"})',
    );
    for (const [host, calls] of [
      [hostA(), CALLS_A],
      [hostB(), CALLS_B],
    ] as const) {
      expect(byEndpoint(perHost.filter((s) => s.labels.instance === host.target)), host.target).toEqual(calls);
    }
  });

  it('Total Calls by Endpoint and the summary table add both hosts up, per route', async () => {
    expect(await panelByEndpoint(prom, 'Total Calls by Endpoint')).toEqual(CALLS);
    expect(CALLS['GET /api/tree/']).toBe(9); // 5 on A + 4 on B
    expect(await panelByEndpoint(prom, 'Endpoint Performance Summary', 'A')).toEqual(CALLS);

    // Total Time is the sum of the hosts' times, Average Response Time the mean over both.
    const timePerHost = await prom.instant(
      'sum by (instance, method, route) (http_request_duration_seconds_sum{route!="<unmatched>"})',
    );
    const total = await panelByEndpoint(prom, 'Endpoint Performance Summary', 'C');
    const average = await panelByEndpoint(prom, 'Endpoint Performance Summary', 'B');
    expect(Object.keys(total).sort()).toEqual(Object.keys(CALLS).sort());
    for (const [endpoint, n] of Object.entries(CALLS)) {
      const sum = timePerHost
        .filter((s) => `${s.labels.method} ${s.labels.route}` === endpoint)
        .reduce((a, s) => a + s.value, 0);
      expect(total[endpoint], endpoint).toBeCloseTo(sum, 9);
      expect(average[endpoint], endpoint).toBeCloseTo(sum / n, 9);
    }
  });

  it('the unmatched requests of both hosts are in the raw metric, not in the per-endpoint panels', async () => {
    const raw = await prom.instant(`sum(http_request_duration_seconds_count{route="${UNMATCHED}"})`);
    expect(raw.map((s) => s.value)).toEqual([3]);
    const routes = (await prom.instant(panelExpr('Total Calls by Endpoint'))).map((s) => s.labels.route);
    expect(routes).not.toContain(UNMATCHED);
  });

  it('the Host variable narrows the panels to one host', async () => {
    for (const [host, calls] of [
      [hostA(), CALLS_A],
      [hostB(), CALLS_B],
    ] as const) {
      const values = { instance: grafanaRegex(host.target) };
      expect(await panelByEndpoint(prom, 'Total Calls by Endpoint', 'A', values), host.target).toEqual(calls);
      expect(await panelValue(prom, 'Live workers', values), host.target).toBe(host.workers);
      expect(await panelValue(prom, 'Aggregators up', values), host.target).toBe(1);
    }
  });

  it('the overview counts both aggregators and every worker; the per-host panels have one line per host', async () => {
    expect(await panelValue(prom, 'Aggregators up')).toBe(2);
    expect(await panelValue(prom, 'Live workers')).toBe(3);
    expect(await panelValue(prom, 'Requests in flight')).toBe(0);
    const writers = await prom.instant(panelExpr('Metrics writers by state', 'A'));
    const live = Object.fromEntries(
      writers.filter((s) => s.labels.state === 'live').map((s) => [s.labels.instance, s.value]),
    );
    expect(live).toEqual({ [hostA().target]: 2, [hostB().target]: 1 });
    // The Job and Host variables (label_values queries) offer the one job and both hosts.
    const variable = async (name: string, label: string) => {
      const query = dashboardQueries(loadDashboard()).find((q) => q.source === `variable "${name}"`);
      const samples = await prom.instant(substituteVariables(query?.expr as string));
      return [...new Set(samples.map((s) => s.labels[label]))].sort();
    };
    expect(await variable('job', 'job')).toEqual(['kci-metrics']);
    expect(await variable('instance', 'instance')).toEqual(hosts.map((h) => h.target).sort());
  });
});
