import { gunzipSync } from 'node:zlib';
import { StoreError } from '@kci-metrics/core';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '@kci-metrics/sqlite-store';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeStore } from './test-support/fake-store.js';
import { get, type RunningServer, startServer } from './test-support/http.js';
import { promtoolCheck, skipPromtool } from './test-support/promtool.js';

const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let running: RunningServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

function workload(): { registry: Registry; store: FakeStore } {
  const registry = new Registry();
  new Counter({ name: 'jobs_total', help: 'Jobs done.', labelNames: ['queue'], registers: [registry] })
    .labels('a "quoted"\nqueue')
    .inc(3);
  new Gauge({ name: 'queue_depth', help: 'Items waiting.', registers: [registry] }).set(7);
  new Histogram({ name: 'job_seconds', help: 'Job time.', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
  return { registry, store: new FakeStore(registry) };
}

async function serve(): Promise<{ port: number; store: FakeStore; running: RunningServer }> {
  const { store } = workload();
  running = await startServer({ store });
  return { port: running.port, store, running };
}

/** The exposition without the scrape-duration sample, which differs from one render to the next. */
function stable(text: string): string {
  return text.replace(/^kci_metrics_scrape_duration_seconds .*$/m, '');
}

describe('the exposition', () => {
  it('serves the Prometheus text format 0.0.4 at /metrics and /metrics/ by default', async () => {
    const { port } = await serve();
    for (const path of ['/metrics', '/metrics/', '/metrics/?debug=1']) {
      const answer = await get(port, path);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
      expect(answer.headers.vary).toBe('Accept, Accept-Encoding');
      expect(answer.text).toContain('jobs_total{queue="a \\"quoted\\"\\nqueue"} 3');
      expect(answer.text).toContain('job_seconds_bucket{le="1"} 1');
      expect(answer.text).toContain('kci_metrics_store_up 1');
      expect(answer.text).not.toContain('# EOF');
    }
  });

  it('serves OpenMetrics when the scraper asks for it, with our metrics before the single # EOF', async () => {
    const { port } = await serve();
    const answer = await get(port, '/metrics/', { headers: { Accept: OPENMETRICS_ACCEPT } });
    expect(answer.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(answer.text.endsWith('kci_metrics_store_conflicts 0\n# TYPE kci_metrics_store_conflict_info gauge\n# HELP kci_metrics_store_conflict_info One series per metric whose definition differs between processes.\n# EOF\n')).toBe(true);
    expect(answer.text.match(/^# EOF$/gm)).toHaveLength(1);
    // OpenMetrics counters: the family has no _total, its sample does.
    expect(answer.text).toContain('# TYPE kci_metrics_store_folded_writers counter\n');
    expect(answer.text).toContain('\nkci_metrics_store_folded_writers_total 0\n');
    expect(answer.text).toContain('# UNIT kci_metrics_scrape_duration_seconds seconds\n');
  });

  it('gzips when the scraper accepts it, and the body decompresses to the same exposition', async () => {
    const { port } = await serve();
    const plain = await get(port);
    const zipped = await get(port, '/metrics/', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(stable(gunzipSync(zipped.body).toString('utf8'))).toBe(stable(plain.text));
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('answers HEAD with the headers of a GET and no body', async () => {
    const { port } = await serve();
    const head = await get(port, '/metrics/', { method: 'HEAD', headers: { Accept: OPENMETRICS_ACCEPT } });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    expect(head.body.length).toBe(0);
  });

  it.skipIf(skipPromtool)('passes promtool check metrics (parse and lint)', async () => {
    const { port } = await serve();
    const { status, output } = promtoolCheck((await get(port)).text);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('shares one store read between concurrent scrapes', async () => {
    const { port, store } = await serve();
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(port)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(store.metricsCalls).toBe(1);
    await get(port);
    expect(store.metricsCalls).toBe(2);
  });
});

describe('answers other than the exposition', () => {
  it('answers unknown paths with 404 and other methods with 405 and Allow, in plain text', async () => {
    const { port } = await serve();
    const missing = await get(port, '/metricsx');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('text/plain; charset=utf-8');
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const answer = await get(port, '/metrics/', { method });
      expect(answer.status, method).toBe(405);
      expect(answer.headers.allow).toBe('GET, HEAD');
      expect(answer.text).toBe('method not allowed: use GET or HEAD\n');
    }
  });
});

describe('store health', () => {
  it('reports writers, folds, flush failures, size and conflicts, and logs each conflict once', async () => {
    const { port, store, running } = await serve();
    store.health_ = {
      ...store.health_,
      sizeBytes: 12288,
      liveWriters: 3,
      stalledWriters: 1,
      deadWriters: 2,
      foldedWriters: 5,
      flushFailures: 4,
      conflicts: [
        { metric: 'jobs_total', detail: 'pid 12 registers it as a gauge, pid 11 as a counter' },
        { metric: 'jobs_total', detail: 'pid 13 uses labels [a]' },
        { metric: 'queue_depth', detail: 'pid 12 uses labels [x]' },
      ],
    };
    let text = '';
    for (let i = 0; i < 3; i++) text = (await get(port)).text;
    expect(text).toContain('kci_metrics_store_size_bytes 12288\n');
    expect(text).toContain('kci_metrics_store_writers{state="live"} 2\n');
    expect(text).toContain('kci_metrics_store_writers{state="stalled"} 1\n');
    expect(text).toContain('kci_metrics_store_writers{state="dead"} 2\n');
    expect(text).toContain('kci_metrics_store_folded_writers_total 5\n');
    expect(text).toContain('kci_metrics_store_flush_failures_total 4\n');
    expect(text).toContain('kci_metrics_store_conflicts 3\n');
    expect(text).toContain('kci_metrics_store_conflict_info{metric="jobs_total"} 1\nkci_metrics_store_conflict_info{metric="queue_depth"} 1\n');
    expect(running.logger.count(/^warn metric definition conflict.*jobs_total: pid 12 registers it as a gauge/)).toBe(1);
    expect(running.logger.count(/^warn metric definition conflict/)).toBe(3);

    store.health_ = { ...store.health_, conflicts: [] };
    expect((await get(port)).text).toContain('kci_metrics_store_conflicts 0\n');
    expect(running.logger.count(/^info metric definition conflict resolved/)).toBe(3);
  });

  it('answers 503 with a one-line error while the store cannot be read, logs it once, and recovers', async () => {
    const { port, store, running } = await serve();
    expect((await get(port)).status).toBe(200);
    store.corrupt();
    for (let i = 0; i < 3; i++) {
      const answer = await get(port, '/metrics/', { headers: { Accept: OPENMETRICS_ACCEPT, 'Accept-Encoding': 'gzip' } });
      expect(answer.status).toBe(503);
      expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(answer.text).toBe('metrics store unavailable: STORE_READ_FAILED (see the aggregator log)\n');
    }
    expect(running.logger.count(/^warn metrics store unreadable/)).toBe(1);
    const logged = running.logger.lines.find((line) => line.includes('unreadable')) ?? '';
    expect(logged).toContain(store.path);
    expect(logged).toContain('file is not a database');

    store.repair();
    const after = await get(port);
    expect(after.status).toBe(200);
    expect(after.text).toContain('jobs_total{queue=');
    expect(after.text).toContain('kci_metrics_store_read_failures_total 3\n');
    expect(running.logger.count(/^info metrics store readable again/)).toBe(1);
  });

  it('answers 500 without details when reading fails for an unexpected reason', async () => {
    const { port, store, running } = await serve();
    store.failure = new TypeError('boom at /secret/internal/path.js:12');
    const answer = await get(port);
    expect(answer.status).toBe(500);
    expect(answer.text).toBe('internal error while reading the metrics store (see the aggregator log)\n');
    expect(running.logger.count(/boom at \/secret/)).toBe(1);
    store.failure = new StoreError('STORE_CLOSED', 'the store is closed');
    expect((await get(port)).text).toBe('metrics store unavailable: STORE_CLOSED (see the aggregator log)\n');
  });
});

describe('authentication', () => {
  it('asks for a bearer token with 401 and serves the right one', async () => {
    const { store } = workload();
    running = await startServer({ store, auth: { kind: 'bearer', token: 't0ken' } });
    const missing = await get(running.port);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(missing.text).not.toContain('jobs_total');
    expect((await get(running.port, '/metrics/', { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    const right = await get(running.port, '/metrics/', { headers: { Authorization: 'Bearer t0ken' } });
    expect(right.status).toBe(200);
    expect(right.text).toContain('jobs_total');
  });

  it('asks for basic auth with 401 and serves the right user and password', async () => {
    const { store } = workload();
    running = await startServer({ store, auth: { kind: 'basic', user: 'prometheus', password: 'pa:ss' } });
    const creds = (user: string, password: string) => ({
      Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });
    const missing = await get(running.port);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Basic realm="metrics", charset="UTF-8"');
    expect((await get(running.port, '/metrics/', { headers: creds('prometheus', 'wrong') })).status).toBe(401);
    expect((await get(running.port, '/metrics/', { headers: creds('other', 'pa:ss') })).status).toBe(401);
    expect((await get(running.port, '/metrics/', { headers: creds('prometheus', 'pa:ss') })).status).toBe(200);
  });
});
