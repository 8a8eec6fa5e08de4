import { gunzipSync } from 'node:zlib';
import {
  type MetricsStore,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  StoreError,
} from '@kci-metrics/sqlite-store';
import { afterEach, describe, expect, it } from 'vitest';
import { get, type RunningServer, startServer } from './test-support/http.js';
import { openMetricsProblems } from './test-support/openmetrics.js';
import { promtoolCheck, skipPromtool } from './test-support/promtool.js';
import { StoreFixture } from './test-support/store.js';

const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let running: RunningServer | undefined;
let fixture: StoreFixture | undefined;
afterEach(async () => {
  await running?.close();
  fixture?.close();
  running = undefined;
  fixture = undefined;
});

/** A real store with a few series, served by an aggregator on a loopback port. */
async function serve(wrap: (store: MetricsStore) => MetricsStore = (store) => store) {
  fixture = new StoreFixture();
  running = await startServer({ store: wrap(fixture.reader) });
  return { port: running.port, store: fixture, running };
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
      expect(answer.text).toContain('jobs_total{queue="a \\"quoted\\"\\nqueue"} 3\n');
      expect(answer.text).toContain('job_seconds_bucket{le="1"} 1\n');
      expect(answer.text).toContain('queue_depth 7\n');
      expect(answer.text).toContain('kci_metrics_store_up 1\n');
      expect(answer.text).not.toContain('# EOF');
    }
  });

  it('serves OpenMetrics when the scraper asks for it, with our metrics before the single # EOF', async () => {
    const { port } = await serve();
    const answer = await get(port, '/metrics/', { headers: { Accept: OPENMETRICS_ACCEPT } });
    expect(answer.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(answer.text).toContain('jobs_total{queue="a \\"quoted\\"\\nqueue"} 3\n');
    expect(answer.text.match(/^# EOF$/gm)).toHaveLength(1);
    expect(answer.text.endsWith('\n# EOF\n')).toBe(true);
    const ours = answer.text.slice(answer.text.indexOf('# TYPE kci_metrics_scrape_duration_seconds gauge\n'));
    expect(ours).toMatch(
      /^# TYPE kci_metrics_scrape_duration_seconds gauge\n# UNIT kci_metrics_scrape_duration_seconds seconds\n/,
    );
    // OpenMetrics counters: the family has no _total, its sample does.
    expect(ours).toContain('# TYPE kci_metrics_store_folded_writers counter\n');
    expect(ours).toContain('\nkci_metrics_store_folded_writers_total 0\n');
    expect(ours).toContain('\nkci_metrics_store_conflicts 0\n');
    expect(openMetricsProblems(answer.text)).toEqual([]);
  });

  it('gzips when the scraper accepts it, and the body decompresses to the same exposition', async () => {
    const { port } = await serve();
    const plain = await get(port);
    const zipped = await get(port, '/metrics/', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(stable(gunzipSync(zipped.body).toString('utf8'))).toBe(stable(plain.text));
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zippedOpenMetrics = await get(port, '/metrics', {
      headers: { Accept: OPENMETRICS_ACCEPT, 'Accept-Encoding': 'gzip' },
    });
    expect(gunzipSync(zippedOpenMetrics.body).toString('utf8').endsWith('# EOF\n')).toBe(true);
  });

  it('answers HEAD with the headers of a GET and no body', async () => {
    const { port } = await serve();
    const head = await get(port, '/metrics/', { method: 'HEAD', headers: { Accept: OPENMETRICS_ACCEPT } });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(500);
    expect(head.body.length).toBe(0);
  });

  it.skipIf(skipPromtool)(
    'passes promtool check metrics (parse and lint) and a strict OpenMetrics check, conflicts and all',
    async () => {
      const { port, store } = await serve();
      const conflicting = await store.spawnWriter({ type: 'gauge', name: 'jobs_total', stay: true });
      try {
        const text = (await get(port)).text;
        expect(text).toContain('kci_metrics_store_conflict_info{metric="jobs_total"} 1\n');
        const { status, output } = promtoolCheck(text);
        expect(output).toBe('');
        expect(status).toBe(0);
        const openMetrics = (await get(port, '/metrics/', { headers: { Accept: OPENMETRICS_ACCEPT } })).text;
        expect(openMetrics).toContain('kci_metrics_store_conflict_info{metric="jobs_total"} 1\n');
        expect(openMetricsProblems(openMetrics)).toEqual([]);
      } finally {
        conflicting.child.kill('SIGTERM');
        await conflicting.exited;
      }
    },
  );

  it('shares one store read between scrapes that arrive while it is in flight', async () => {
    let reads = 0;
    // The real store, made slow: as if each read waited on a lock.
    const { port } = await serve((store) => ({
      ...store,
      path: store.path,
      scrape: async (options) => {
        reads += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return store.scrape(options);
      },
    }));
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => get(port, '/metrics/', { headers: { 'Accept-Encoding': 'gzip' } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.body.toString('base64'))).size).toBe(1);
    expect(reads).toBe(1);
    await get(port);
    expect(reads).toBe(2);
  });
});

describe('one scrape, one snapshot', () => {
  it('takes the stored and the health-derived metrics from one read, even if a worker flushes between', async () => {
    // Deterministic: right after each store read returns, before the aggregator reads anything else, another
    // worker process (its first flush) joins. Before issue 15 the aggregator read metrics(), then health():
    // the body lacked the worker's metric while kci_metrics_store_writers already counted it.
    let late: Awaited<ReturnType<StoreFixture['spawnWriter']>> | undefined;
    let fixtureRef: StoreFixture | undefined;
    const afterRead = async () => {
      late ??= await fixtureRef?.spawnWriter({ name: 'late_jobs_total', value: 5, stay: true });
    };
    const { port, store } = await serve((reader) => ({
      ...reader,
      path: reader.path,
      metrics: async (options) => {
        const text = await reader.metrics(options);
        await afterRead();
        return text;
      },
      scrape: async (options) => {
        const scrape = await reader.scrape(options);
        await afterRead();
        return scrape;
      },
    }));
    fixtureRef = store;
    try {
      const seen = (text: string) => ({
        liveWriters: sample(text, 'kci_metrics_store_writers{state="live"}'),
        lateJobs: sample(text, 'late_jobs_total'),
      });
      expect(seen((await get(port)).text)).toEqual({ liveWriters: 1, lateJobs: undefined });
      expect(late).toBeDefined();
      expect(seen((await get(port)).text)).toEqual({ liveWriters: 2, lateJobs: 5 });
    } finally {
      late?.child.kill('SIGTERM');
      await late?.exited;
    }
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

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('store health', () => {
  it('reports live and dead writers, store size and conflicts, and logs each conflict once', async () => {
    const { port, store, running } = await serve();
    await (await store.spawnWriter({ value: 2 })).exited;
    const conflicting = await store.spawnWriter({ type: 'gauge', name: 'jobs_total', stay: true });
    try {
      let text = '';
      for (let i = 0; i < 3; i++) text = (await get(port)).text;
      expect(text).toContain('\nworker_jobs_total 2\n');
      expect(sample(text, 'kci_metrics_store_writers{state="live"}')).toBe(2);
      expect(sample(text, 'kci_metrics_store_writers{state="stalled"}')).toBe(0);
      expect(sample(text, 'kci_metrics_store_writers{state="dead"}')).toBe(1);
      expect(sample(text, 'kci_metrics_store_size_bytes')).toBeGreaterThan(4096);
      expect(sample(text, 'kci_metrics_store_conflicts')).toBe(1);
      expect(text).toContain('kci_metrics_store_conflict_info{metric="jobs_total"} 1\n');
      // The other metrics, including the conflicting name's original definition, are served as usual.
      expect(text).toContain('jobs_total{queue="a \\"quoted\\"\\nqueue"} 3\n');
      expect(running.logger.count(/^warn metric definition conflict, other metrics are unaffected: jobs_total: /)).toBe(
        1,
      );
    } finally {
      conflicting.child.kill('SIGTERM');
      await conflicting.exited;
    }
  });

  it('counts folded writers, and logs a conflict as resolved once its process is folded away', async () => {
    const { port, store, running } = await serve();
    const conflicting = await store.spawnWriter({ type: 'gauge', name: 'jobs_total', stay: true });
    expect(sample((await get(port)).text, 'kci_metrics_store_conflicts')).toBe(1);
    conflicting.child.kill('SIGTERM');
    await conflicting.exited;
    await get(port); // the aggregator notices the death now, so this writer is the oldest dead one
    // At most 16 dead writers wait to be folded; 16 more exits push the oldest one, the conflicting one, out.
    await Promise.all(Array.from({ length: 16 }, () => store.spawnWriter({}).then((w) => w.exited)));
    const text = (await get(port)).text;
    expect(text).toContain('\nworker_jobs_total 16\n');
    expect(sample(text, 'kci_metrics_store_folded_writers_total')).toBe(1);
    expect(sample(text, 'kci_metrics_store_writers{state="dead"}')).toBe(16);
    expect(sample(text, 'kci_metrics_store_conflicts')).toBe(0);
    expect(text).not.toContain('kci_metrics_store_conflict_info{');
    expect(running.logger.count(/^info metric definition conflict resolved: jobs_total: /)).toBe(1);
  });

  it('answers 503 with a one-line error while the store is not a database, logs it once, and recovers', async () => {
    const { port, store, running } = await serve();
    expect((await get(port)).status).toBe(200);
    store.corrupt();
    for (let i = 0; i < 3; i++) {
      const answer = await get(port, '/metrics/', {
        headers: { Accept: OPENMETRICS_ACCEPT, 'Accept-Encoding': 'gzip' },
      });
      expect(answer.status).toBe(503);
      expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(answer.text).toBe('metrics store unavailable: STORE_READ_FAILED (see the aggregator log)\n');
    }
    expect(store.writer.flush()).toBe(false);
    expect(running.logger.count(/^warn metrics store unreadable/)).toBe(1);
    const logged = running.logger.lines.find((line) => line.includes('unreadable')) ?? '';
    expect(logged).toContain(store.dbPath);
    expect(logged).toMatch(/not a database/);

    store.repair();
    const after = await get(port);
    expect(after.status).toBe(200);
    expect(after.text).toContain('jobs_total{queue="after repair"} 1\n');
    expect(sample(after.text, 'kci_metrics_store_read_failures_total')).toBe(3);
    expect(sample(after.text, 'kci_metrics_store_flush_failures_total')).toBe(1);
    expect(running.logger.count(/^info metrics store readable again/)).toBe(1);
  });

  it('keeps serving while another process holds the write lock; values recorded meanwhile arrive once', async () => {
    const { port, store, running } = await serve();
    const lock = await store.lock();
    try {
      store.jobs.labels('during the lock').inc(4);
      // The worker gives up within 50 ms each time and keeps its values; from the third attempt in a row
      // the lock is a failure rather than contention, and all three attempts count.
      for (let i = 0; i < 3; i++) expect(store.writer.flush()).toBe(false);
      // WAL readers do not wait for writers: scrapes go on, with the values stored before the lock.
      const during = await get(port);
      expect(during.status).toBe(200);
      expect(during.text).toContain('jobs_total{queue="a \\"quoted\\"\\nqueue"} 3\n');
      expect(during.text).not.toContain('during the lock');
    } finally {
      await lock.release();
    }
    store.flush();
    store.flush();
    const after = await get(port);
    expect(after.text).toContain('jobs_total{queue="during the lock"} 4\n');
    expect(sample(after.text, 'kci_metrics_store_flush_failures_total')).toBe(3);
    expect(sample(after.text, 'kci_metrics_store_read_failures_total')).toBe(0);
    expect(running.logger.lines).toEqual([]);
  });

  it('answers 500 without details when reading fails for an unexpected reason', async () => {
    let failure: Error | undefined = new TypeError('boom at /secret/internal/path.js:12');
    const { port, running } = await serve((store) => ({
      ...store,
      path: store.path,
      scrape: (options) => (failure ? Promise.reject(failure) : store.scrape(options)),
    }));
    const answer = await get(port);
    expect(answer.status).toBe(500);
    expect(answer.text).toBe('internal error while reading the metrics store (see the aggregator log)\n');
    expect(running.logger.count(/boom at \/secret/)).toBe(1);
    failure = new StoreError('STORE_CLOSED', 'the store is closed');
    expect((await get(port)).text).toBe('metrics store unavailable: STORE_CLOSED (see the aggregator log)\n');
    failure = undefined;
    expect((await get(port)).status).toBe(200);
  });
});

describe('authentication', () => {
  it('asks for a bearer token with 401 and serves the right one', async () => {
    fixture = new StoreFixture();
    running = await startServer({ store: fixture.reader, auth: { kind: 'bearer', token: 't0ken' } });
    const missing = await get(running.port);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(missing.text).toBe('unauthorized: this endpoint needs credentials\n');
    expect((await get(running.port, '/metrics/', { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    const right = await get(running.port, '/metrics/', { headers: { Authorization: 'Bearer t0ken' } });
    expect(right.status).toBe(200);
    expect(right.text).toContain('jobs_total');
  });

  it('asks for basic auth with 401 and serves the right user and password', async () => {
    fixture = new StoreFixture();
    running = await startServer({
      store: fixture.reader,
      auth: { kind: 'basic', user: 'prometheus', password: 'pa:ss' },
    });
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
