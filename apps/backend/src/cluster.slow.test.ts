/**
 * The real cluster (primary, workers, aggregator child, SQLite store) driven over HTTP: exact request
 * counts per route template, worker replacement, draining, and metrics off.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@kci-metrics/sqlite-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Framework } from './config.js';
import { MAGIC } from './respond.js';
import { ROUTES } from './routes.js';
import { Rng } from './synthetic.js';
import { type BackendProcess, cleanEnv, freePort, startBackend } from './test-support/backend.js';
import { expectedCounts, sendAll } from './test-support/requests.js';
import { requestCounts, scrapeUntil, total, waitForAggregator } from './test-support/scrape.js';
import { type PlannedRequest, requestFor, UNMATCHED } from './traffic-plan.js';

/** A batch touching every route 1-3 times, plus failures and unknown URLs, with the status each must get. */
function batch(seed: string): { requests: PlannedRequest[]; statuses: number[] } {
  const rng = new Rng(seed);
  const requests: PlannedRequest[] = [];
  const statuses: number[] = [];
  const add = (request: PlannedRequest, status: number) => {
    requests.push(request);
    statuses.push(status);
  };
  ROUTES.forEach((route, i) => {
    for (let n = 0; n <= i % 3; n++) add(requestFor(rng, route), 200);
  });
  for (const i of [0, 12, 30]) add(requestFor(rng, ROUTES[i] as (typeof ROUTES)[number], MAGIC.error), 500);
  for (const i of [1, 16, 38]) add(requestFor(rng, ROUTES[i] as (typeof ROUTES)[number], MAGIC.missing), 404);
  for (const url of ['/', '/.env', '/api/tree', '/api/nothing/here', `/api/${rng.hex(8)}`])
    add({ method: 'GET', url, route: UNMATCHED }, 404);
  add({ method: 'POST', url: '/api/tree/', route: UNMATCHED }, 404); // a known path with another method
  return { requests, statuses };
}

async function sendBatch(port: number, seed: string, into: Map<string, number>): Promise<void> {
  const { requests, statuses } = batch(seed);
  const answers = await sendAll(port, requests);
  expect(answers.map((a) => a.status)).toEqual(statuses);
  expectedCounts(requests, answers, into);
}

const sameCounts = (expected: Map<string, number>) => (counts: Map<string, number>) =>
  counts.size === expected.size && [...expected].every(([key, n]) => counts.get(key) === n);

// Express gets the counting test (same route labels as Koa); Koa also the worker replacement and the drain.
describe.each<[Framework, 'demo' | 'main', number, boolean]>([
  ['koa', 'demo', 3, true],
  ['express', 'main', 2, false],
])('%s cluster with metrics on (dist/%s.js, %i workers)', (framework, entry, workers, lifecycle) => {
  let dir: string;
  let metricsPort: number;
  let backend: BackendProcess;
  const expected = new Map<string, number>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kci-backend-'));
    metricsPort = await freePort();
    backend = await startBackend(
      entry,
      cleanEnv({
        // dist/demo.js turns metrics on by default; dist/main.js needs it said
        ...(entry === 'main' ? { PROMETHEUS_METRICS_ENABLED: 'true' } : {}),
        BACKEND_FRAMEWORK: framework,
        WEB_CONCURRENCY: String(workers),
        BACKEND_LATENCY_SCALE: '0',
        PROMETHEUS_METRICS_PORT: String(metricsPort),
        PROMETHEUS_MULTIPROC_DIR: dir,
        PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: '200',
      }),
    );
    await waitForAggregator(metricsPort);
  });
  afterAll(async () => {
    await backend?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts every request under its route template, method and status, summed over the workers', async () => {
    expect(backend.workerPids).toHaveLength(workers);
    await sendBatch(backend.port, 'first', expected);
    const counts = await scrapeUntil(metricsPort, sameCounts(expected));
    expect(counts).toEqual(expected);
    expect(counts.get('GET /api/tree/:treeName/*gitBranch/compare 200')).toBe(1);
    expect(counts.get(`GET ${UNMATCHED} 404`)).toBe(5);
    expect(counts.get(`POST ${UNMATCHED} 404`)).toBe(1);
  });

  if (!lifecycle) return;

  it('replaces a killed worker, and the totals never go down', async () => {
    const before = total(await scrapeUntil(metricsPort, sameCounts(expected)));
    const [victim] = backend.workerPids;
    process.kill(victim as number, 'SIGKILL');
    await backend.waitFor(new RegExp(`pid ${victim}\\) exited \\(SIGKILL\\); replacing`));
    await backend.waitFor(/listening[\s\S]*exited \(SIGKILL\)[\s\S]*\(pid \d+\) listening/);
    expect(new Set(backend.workerPids).size).toBe(workers + 1);
    expect(total(await scrapeUntil(metricsPort, () => true))).toBeGreaterThanOrEqual(before);

    await sendBatch(backend.port, 'second', expected);
    const counts = await scrapeUntil(metricsPort, sameCounts(expected));
    expect(counts).toEqual(expected);
  });

  it('drains in-flight requests on SIGTERM, counts them all and exits 0', async () => {
    const slow = Array.from(
      { length: 6 },
      (_, i): PlannedRequest => ({ method: 'GET', url: `/api/test/${MAGIC.slow}?n=${i}`, route: '/api/test/:testId' }),
    );
    const answers = sendAll(backend.port, slow, slow.length); // each takes a second
    await new Promise((r) => setTimeout(r, 300));
    backend.child.kill('SIGTERM');
    expect((await answers).map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(await backend.exit()).toEqual({ code: 0, signal: null });
    expect(backend.output).toContain('[backend] stopped');

    expected.set('GET /api/test/:testId 200', (expected.get('GET /api/test/:testId 200') ?? 0) + slow.length);
    const store = openStore({ dir });
    try {
      expect(requestCounts(await store.metrics())).toEqual(expected); // flushed by the draining workers
    } finally {
      store.close();
    }
  });
});

describe('Ctrl+C (SIGINT to the whole process group)', () => {
  it('stops primary, workers and aggregator once, exits 0, and keeps every response counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kci-backend-'));
    const metricsPort = await freePort();
    const env = cleanEnv({
      PROMETHEUS_METRICS_PORT: String(metricsPort),
      PROMETHEUS_MULTIPROC_DIR: dir,
      BACKEND_LATENCY_SCALE: '0',
    });
    const backend = await startBackend('demo', env, { detached: true });
    try {
      await waitForAggregator(metricsPort);
      const expected = new Map<string, number>();
      await sendBatch(backend.port, 'interrupt', expected);
      backend.interrupt();
      expect(await backend.exit()).toEqual({ code: 0, signal: null });
      expect(backend.output).not.toMatch(/replacing|restarting/); // nothing was restarted while stopping
      const store = openStore({ dir });
      try {
        expect(requestCounts(await store.metrics())).toEqual(expected);
      } finally {
        store.close();
      }
    } finally {
      await backend.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics off (dist/demo.js with PROMETHEUS_METRICS_ENABLED=false)', () => {
  it('serves requests, loads no metrics code in the workers, and nothing answers on the metrics port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kci-backend-'));
    const metricsPort = await freePort();
    const trace = fileURLToPath(new URL('./test-support/trace-imports.mjs', import.meta.url));
    const backend = await startBackend(
      'demo',
      cleanEnv({
        PROMETHEUS_METRICS_ENABLED: 'false',
        PROMETHEUS_METRICS_PORT: String(metricsPort),
        PROMETHEUS_MULTIPROC_DIR: dir,
        NODE_OPTIONS: `--import ${trace}`,
      }),
    );
    try {
      expect(backend.output).toContain('Metrics    disabled');
      // The workers load no metrics code at all (the primary reads the configuration with @kci-metrics/core).
      const [primaryImport] = backend.output.match(/\[imports\] \d+ .*prom-client.*/) ?? [];
      expect(primaryImport).toContain(`[imports] ${backend.child.pid} `);
      for (const pid of backend.workerPids) expect(backend.output).not.toContain(`[imports] ${pid} `);
      const answers = await sendAll(backend.port, batch('off').requests.slice(0, 20));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics/`)).rejects.toThrow();
      expect(existsSync(join(dir, 'kci-metrics.sqlite'))).toBe(false);
      expect(await backend.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await backend.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
