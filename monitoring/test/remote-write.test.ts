/**
 * Issue 5, section 3: monitoring/remote-write.example.yml is valid (promtool) and works: a Prometheus
 * running it scrapes a real demo backend and remote-writes to a second Prometheus (the receiver, standing
 * in for Mimir, Thanos or VictoriaMetrics), which then answers the dashboard's queries with the same numbers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type DemoBackend, startDemoBackend } from './support/backend.js';
import { binaryOrSkip } from './support/binaries.js';
import { alertRules, dashboardQueries, loadDashboard } from './support/dashboard.js';
import { panelByEndpoint } from './support/panels.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { runPromtool } from './support/promtool.js';
import { MONITORING_DIR, readRepoFile } from './support/repo.js';
import { expectedCalls, type PlannedRequests, sendPlanned } from './support/requests.js';
import { waitUntil } from './support/wait.js';

const prometheus = binaryOrSkip('prometheus');
const promtool = binaryOrSkip('promtool');

const EXAMPLE = 'monitoring/remote-write.example.yml';

interface RemoteWrite {
  name?: string;
  url: string;
  write_relabel_configs?: Array<{ source_labels?: string[]; regex?: string; action?: string }>;
  queue_config?: Record<string, unknown>;
}
interface ExampleConfig {
  global: { scrape_interval?: string; evaluation_interval?: string; external_labels: Record<string, string> };
  rule_files: string[];
  scrape_configs: Array<Record<string, unknown> & { job_name: string }>;
  remote_write: RemoteWrite[];
}

const example = () => parse(readRepoFile(EXAMPLE)) as ExampleConfig;

/** The metric names the dashboard and the alert rules select (`name{...}`). */
function metricsUsed(): string[] {
  const exprs = [...dashboardQueries(loadDashboard()).map((q) => q.expr), ...alertRules().map((r) => r.expr)];
  return [...new Set(exprs.flatMap((e) => [...e.matchAll(/([A-Za-z_:][\w:]*)\{/g)].map((m) => m[1] as string)))].sort();
}

/**
 * The example with only what a test must change: the scrape targets, the intervals (and the batch
 * deadline, the remote-write interval), and the receiver's URL.
 */
function testConfig(target: string, receiverUrl: string): string {
  const doc = example();
  doc.global = { ...doc.global, scrape_interval: '1s', evaluation_interval: '1s' };
  const job = doc.scrape_configs.find((c) => c.job_name === 'kci-metrics');
  if (!job) throw new Error(`${EXAMPLE} has no kci-metrics job`);
  Object.assign(job, { scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [target] }] });
  const [remote] = doc.remote_write;
  if (!remote || doc.remote_write.length !== 1) throw new Error(`${EXAMPLE} should have one remote_write entry`);
  remote.url = `${receiverUrl}/api/v1/write`;
  remote.queue_config = { ...remote.queue_config, batch_send_deadline: '1s' };
  return stringify(doc);
}

const get = (path: string, route: string, count: number, status = 200): PlannedRequests => ({
  method: 'GET',
  path,
  route,
  status,
  count,
});
const PLAN: PlannedRequests[] = [
  get('/api/tree/', '/api/tree/', 7),
  get('/api/issue/i1/tests', '/api/issue/:issueId/tests', 3),
  get('/api/build/error', '/api/build/:buildId', 2, 500),
  get('/nope', '<unmatched>', 1, 404),
];
const CALLS = expectedCalls(PLAN);

describe.skipIf(!promtool)('remote-write.example.yml passes promtool', () => {
  it('is a valid configuration as shipped (alerts.yml beside it)', async () => {
    const result = await runPromtool(['check', 'config', 'remote-write.example.yml'], { cwd: MONITORING_DIR });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS: remote-write.example.yml is valid prometheus config file syntax');
    expect(result.output).not.toContain('WARNING');
  });

  it('promtool rejects a broken remote_write section (the check can fail)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kci-remote-write-'));
    try {
      await writeFile(join(dir, 'alerts.yml'), readRepoFile('monitoring/alerts.yml'));
      await writeFile(join(dir, 'broken.yml'), readRepoFile(EXAMPLE).replace('    url: http://', '    uri: http://'));
      const result = await runPromtool(['check', 'config', 'broken.yml'], { cwd: dir });
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('uri');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('remote-write.example.yml agrees with the rest of monitoring/', () => {
  it('keeps every metric the dashboard and the alert rules use', () => {
    const keep = example().remote_write[0]?.write_relabel_configs?.find((r) => r.action === 'keep');
    const regex = new RegExp(`^(?:${keep?.regex})$`); // Prometheus anchors relabel regexes
    expect(metricsUsed()).toEqual(
      expect.arrayContaining(['http_request_duration_seconds_count', 'up', 'kci_metrics_store_writers']),
    );
    expect(metricsUsed().filter((name) => !regex.test(name))).toEqual([]);
  });

  it('scrapes like prometheus.yml: same job, path, rules and external label', () => {
    const shipped = parse(readRepoFile('monitoring/prometheus.yml')) as ExampleConfig;
    const doc = example();
    const job = (c: ExampleConfig) => c.scrape_configs.find((j) => j.job_name === 'kci-metrics');
    expect(job(doc)).toMatchObject({
      metrics_path: job(shipped)?.metrics_path,
      scrape_interval: job(shipped)?.scrape_interval,
    });
    expect(doc.rule_files).toEqual(shipped.rule_files);
    expect(doc.global.external_labels).toMatchObject(shipped.global.external_labels);
  });

  it('docs/monitoring.md shows the same remote_write section', () => {
    const blocks = [...readRepoFile('docs/monitoring.md').matchAll(/```yaml\n(remote_write:\n[\s\S]*?)```/g)];
    expect(blocks).toHaveLength(1);
    const documented = parse(blocks[0]?.[1] as string) as Pick<ExampleConfig, 'remote_write'>;
    expect(documented.remote_write).toEqual(example().remote_write);
  });
});

describe.skipIf(!prometheus)('remote_write from a Prometheus running the example to a receiving Prometheus', () => {
  let backend: DemoBackend;
  let receiver: RunningPrometheus;
  let sender: RunningPrometheus;

  beforeAll(async () => {
    const started = await Promise.allSettled([
      startDemoBackend({ workers: 2 }),
      // The receiver scrapes nothing: everything it has came through remote_write.
      startPrometheus({
        config: 'global:\n  scrape_interval: 15s\nscrape_configs: []\n',
        args: ['--web.enable-remote-write-receiver'],
      }),
    ]);
    if (started[0].status === 'fulfilled') backend = started[0].value;
    if (started[1].status === 'fulfilled') receiver = started[1].value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    sender = await startPrometheus({
      config: testConfig(backend.target, receiver.url),
      files: { 'alerts.yml': readRepoFile('monitoring/alerts.yml') },
    });
    await sender.waitForTargets(1);
    await sendPlanned(backend.apiUrl, PLAN);
    await waitUntil(
      async () => {
        const seen = await panelByEndpoint(receiver, 'Total Calls by Endpoint');
        if (JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(CALLS).sort())) return true;
        throw new Error(`the receiver's Total Calls by Endpoint is ${JSON.stringify(seen)}`);
      },
      { what: 'the requests to reach the receiver', timeoutMs: 60_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- sender log ---\n${sender.logs()}`);
    });
  });
  afterAll(async () => {
    await sender?.stop();
    await receiver?.stop();
    await backend?.stop();
  });

  it('the receiver has the request counts, labelled with job, instance and the external labels', async () => {
    const samples = await receiver.instant('http_request_duration_seconds_count{route="/api/tree/"}');
    expect(samples).toHaveLength(1);
    expect(samples[0]?.value).toBe(7);
    expect(samples[0]?.labels).toMatchObject({
      job: 'kci-metrics',
      instance: backend.target,
      method: 'GET',
      status_code: '200',
      ...example().global.external_labels,
    });
    const raw = await receiver.instant('sum by (route, status_code) (http_request_duration_seconds_count)');
    expect(raw.map((s) => `${s.labels.route} ${s.labels.status_code} ${s.value}`).sort()).toEqual([
      '/api/build/:buildId 500 2',
      '/api/issue/:issueId/tests 200 3',
      '/api/tree/ 200 7',
      '<unmatched> 404 1',
    ]);
  });

  it("the dashboard's queries give the same answer on the receiver as on the scraping Prometheus", async () => {
    for (const [title, ref] of [
      ['Total Calls by Endpoint', 'A'],
      ['Endpoint Performance Summary', 'C'],
    ] as const) {
      expect(await panelByEndpoint(receiver, title, ref), title).toEqual(await panelByEndpoint(sender, title, ref));
    }
    const [running] = await receiver.instant('sum(kci_metrics_store_writers{state!="dead"})');
    expect(running?.value).toBe(2);
    const [up] = await receiver.instant('up{job="kci-metrics"}');
    expect(up?.value).toBe(1);
  });

  it('write_relabel_configs sends only the kept series', async () => {
    expect(await sender.instant('scrape_samples_scraped{job="kci-metrics"}')).toHaveLength(1);
    expect(await receiver.instant('scrape_samples_scraped')).toEqual([]);
    expect(await receiver.instant('{__name__=~"scrape_duration_seconds|kci_metrics_store_up"}')).toHaveLength(2);
  });
});
