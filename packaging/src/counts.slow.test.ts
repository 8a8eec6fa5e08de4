/**
 * The issue-14 check a user makes: the READMEs' code in three plain processes of a fresh app, installed from
 * the tarballs with npm and with pnpm, and the installed `kci-metrics-aggregator` command; the merged counts
 * must equal the requests sent, per framework and Express major.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { AppName } from './setup.js';
import { type Child, scrape, sendRequests, startAggregator, startWorker, total } from './support/processes.js';
import { run } from './support/run.js';
import { type Framework, ROUTE_TEMPLATE, routePath, writeWorker } from './support/workers.js';

const { apps } = inject('packaging');
const WORKERS = 3;
const REQUESTS = 300;
// Short, so the test waits less for the last flush; the README's default is 1000 ms.
const FLUSH_MS = '200';

function installed(name: AppName) {
  const app = apps[name];
  if (app.error) throw new Error(`the ${name} app did not install:\n${app.error}`);
  return app;
}

const cases: { app: AppName; framework: Framework; major: string }[] = [
  { app: 'npm', framework: 'koa', major: '3' },
  { app: 'npm', framework: 'express', major: '5' },
  { app: 'npmExpress4', framework: 'express', major: '4' },
  { app: 'pnpm', framework: 'koa', major: '3' },
  { app: 'pnpm', framework: 'express', major: '5' },
  { app: 'pnpmExpress4', framework: 'express', major: '4' },
];

describe.each(['npm', 'pnpm', 'npmExpress4', 'pnpmExpress4'] as AppName[])('the %s app', (name) => {
  it('resolves our packages from its own node_modules and nothing from the repository', async () => {
    const app = installed(name);
    const resolve = (id: string) =>
      run(process.execPath, ['--input-type=module', '-e', `console.log(import.meta.resolve(${JSON.stringify(id)}))`], {
        cwd: app.dir,
      });
    for (const id of ['@kci-metrics/sqlite-store', '@kci-metrics/express', 'prom-client']) {
      expect((await resolve(id)).stdout.trim()).toMatch(new RegExp(`^file://${app.dir}/node_modules/`));
    }
    // vitest and turbo are in the workspace's node_modules only.
    await expect(resolve('vitest')).rejects.toThrow(/ERR_MODULE_NOT_FOUND|Cannot find package/);
    await expect(resolve('turbo')).rejects.toThrow(/ERR_MODULE_NOT_FOUND|Cannot find package/);
  });
});

describe.each(cases)('$framework $major in the $app app', ({ app: name, framework, major }) => {
  const running: Child[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  it(`${WORKERS} worker processes and kci-metrics-aggregator: merged counts equal the ${REQUESTS} requests sent`, async () => {
    const app = installed(name);
    const pkg = framework === 'koa' ? 'koa' : 'express';
    const version = JSON.parse(readFileSync(join(app.dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    expect(version.split('.')[0], `${pkg} installed in the ${name} app`).toBe(major);

    const dir = await mkdtemp(join(app.dir, `store-${framework}${major}-`));
    const env = {
      PROMETHEUS_MULTIPROC_DIR: dir,
      PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: FLUSH_MS,
      PROMETHEUS_METRICS_ENABLED: 'true',
    };
    const file = await writeWorker(app.dir, framework);
    const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(app.dir, file, env)));
    running.push(...workers);
    const aggregator = await startAggregator(app.dir, env);
    running.push(aggregator);

    await sendRequests(
      workers.map((w) => w.port),
      REQUESTS,
      routePath,
    );

    // Every response is counted once the workers' next flush has run.
    const deadline = Date.now() + 20_000;
    let samples = await scrape(aggregator.url);
    while (total(samples, 'http_request_duration_seconds_count') < REQUESTS && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      samples = await scrape(aggregator.url);
    }
    const counts = samples.filter((s) => s.name === 'http_request_duration_seconds_count');
    const output = () => workers.map((w) => w.output()).join('\n');
    expect(total(samples, 'http_request_duration_seconds_count'), output()).toBe(REQUESTS);
    expect(total(samples, 'http_request_duration_seconds_bucket', { le: '+Inf' })).toBe(REQUESTS);
    expect(total(samples, 'http_request_duration_seconds_sum')).toBeGreaterThan(0);
    // One merged series, labelled by the route's template, never by the ids in the paths.
    expect(counts.map((s) => s.labels)).toEqual([{ method: 'GET', route: ROUTE_TEMPLATE, status_code: '200' }]);
    expect(total(samples, 'http_server_active_requests')).toBe(0);

    // Stopped workers (SIGTERM: the store's exit flush) keep their totals.
    await Promise.all(workers.map((w) => w.stop()));
    const after = await scrape(aggregator.url);
    expect(total(after, 'http_request_duration_seconds_count')).toBe(REQUESTS);
  });
});
