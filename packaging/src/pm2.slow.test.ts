/**
 * PM2, installed from npm into the npm app, running the aggregator package's `ecosystem.config.cjs`: the app
 * in cluster mode (several instances behind one port, PM2 owning the primary) and kci-metrics-aggregator in
 * fork mode. Through `pm2 reload`, `pm2 scale` and a kill -9 of an instance, the merged totals never go down
 * and equal what was sent, less, after the kill -9, at most what the killed instance had not flushed yet.
 *
 * The bound is made exact rather than timed: before the kill every response is flushed (the merged total
 * equals the requests sent), then a burst of KILL_BURST requests is sent and one instance is killed at once.
 * Only that burst can be unflushed, so the total afterwards lies in [sent - KILL_BURST, sent]. (The store's
 * bound is one flush interval of the killed process's traffic; the burst is all the traffic it could have had.)
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, scrape, sendRequests, total } from './support/processes.js';
import { run } from './support/run.js';
import { writeWorker } from './support/workers.js';

const { apps } = inject('packaging');
const app = apps.npm;
const INSTANCES = 3;
const FLUSH_MS = '200';
const BATCH = 200;
const KILL_BURST = 60;

interface PmApp {
  name: string;
  script: string;
  exec_mode?: string;
  instances?: number | string;
  env?: Record<string, string>;
  [key: string]: unknown;
}

let pm2Home = '';
let appPort = 0;
let metricsUrl = '';
const seen: number[] = [];
let sent = 0;

const pm2 = (...args: string[]) =>
  run(join(app.dir, 'node_modules', '.bin', 'pm2'), args, {
    cwd: app.dir,
    env: { PM2_HOME: pm2Home },
    timeoutMs: 120_000,
  });

/** The cluster instances' pids, from `pm2 jlist`. */
async function instancePids(name: string): Promise<number[]> {
  const list = JSON.parse((await pm2('jlist')).stdout) as { name: string; pid: number; pm2_env: { status: string } }[];
  return list.filter((p) => p.name === name && p.pm2_env.status === 'online' && p.pid > 0).map((p) => p.pid);
}

/** Scrapes until the merged request count reaches `expected` (or 20 s pass); every scrape is recorded. */
async function mergedCount(expected: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    let count = -1;
    try {
      count = total(await scrape(metricsUrl), 'http_request_duration_seconds_count');
      seen.push(count);
    } catch {}
    if (count >= expected || Date.now() > deadline) return count;
    await sleep(100);
  }
}

/**
 * Expects the merged count to reach `expected`; when it does not, the failure carries what the processes
 * logged (the store logs every failed flush) and the last scrapes, so a red CI run says why.
 */
async function expectMergedCount(expected: number): Promise<void> {
  const count = await mergedCount(expected);
  if (count === expected) return;
  const logs = await pm2('logs', '--nostream', '--lines', '80').then(
    (r) => r.stdout,
    (error: Error) => `pm2 logs failed: ${error.message}`,
  );
  expect(count, `merged count; last scrapes ${seen.slice(-12).join(', ')}; pm2 logs:\n${logs}`).toBe(expected);
}

/** The merged count once it has stopped changing for 1 s (five flush intervals): what survived a kill. */
async function settledCount(): Promise<number> {
  let last = await mergedCount(0);
  let stableSince = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() - stableSince < 1_000 && Date.now() < deadline) {
    await sleep(200);
    const now = await mergedCount(0);
    if (now !== last) stableSince = Date.now();
    last = now;
  }
  return last;
}

async function waitForInstances(name: string, n: number, without?: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pids = await instancePids(name);
    if (pids.length === n && (without === undefined || !pids.includes(without))) return;
    if (Date.now() > deadline)
      throw new Error(`${name} did not reach ${n} online instances:\n${(await pm2('ls')).stdout}`);
    await sleep(250);
  }
}

/**
 * Until the app port accepts a TCP connection: PM2 marks cluster instances online when they start, before
 * they listen. A bare connect sends no HTTP request, so nothing is recorded.
 */
async function waitForListening(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on the app port ${port}`);
    await sleep(100);
  }
}

async function send(n: number, path = (i: number) => `/api/tree/${(sent + i).toString(16)}/full`): Promise<void> {
  await sendRequests([appPort], n, path);
  sent += n;
}

let appName = '';

beforeAll(async () => {
  if (app.error) throw new Error(`the npm app did not install:\n${app.error}`);
  pm2Home = await mkdtemp(join(app.dir, 'pm2-home-'));
  const example = join(app.dir, 'node_modules', '@kci-metrics', 'aggregator', 'examples', 'ecosystem.config.cjs');
  if (!existsSync(example))
    throw new Error(`the aggregator package ships no examples/ecosystem.config.cjs (${example})`);
  // As its comment says: copied next to the app's package.json, with the app's entry file (app.js) beside it.
  await copyFile(example, join(app.dir, 'ecosystem.config.cjs'));
  await writeWorker(app.dir, 'koa', 'app.js');
  const config = createRequire(import.meta.url)(join(app.dir, 'ecosystem.config.cjs')) as { apps: PmApp[] };
  const cluster = config.apps.find((a) => a.exec_mode === 'cluster' || a.exec_mode === 'cluster_mode');
  const aggregator = config.apps.find((a) => a !== cluster);
  if (!cluster || !aggregator) throw new Error(`expected an app in cluster mode and the aggregator in ${example}`);
  appName = cluster.name;
  // Only what a test must own changes: the store directory, the ports, a short flush interval, and 3
  // instances rather than 'max' (2 on this machine).
  const store = await mkdtemp(join(app.dir, 'pm2-store-'));
  appPort = await freePort();
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics/`;
  const shared = { PROMETHEUS_MULTIPROC_DIR: store, PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: FLUSH_MS };
  const patched = {
    apps: [
      { ...cluster, instances: INSTANCES, env: { ...cluster.env, ...shared, PORT: String(appPort) } },
      {
        ...aggregator,
        env: {
          ...aggregator.env,
          ...shared,
          PROMETHEUS_METRICS_PORT: String(metricsPort),
          PROMETHEUS_METRICS_HOST: '127.0.0.1',
        },
      },
    ],
  };
  const file = join(app.dir, 'ecosystem.packaging-test.config.cjs');
  await writeFile(file, `module.exports = ${JSON.stringify(patched, null, 2)};\n`);
  await pm2('start', file);
  await waitForInstances(appName, INSTANCES);
  await waitForListening(appPort);
  const deadline = Date.now() + 30_000;
  while ((await mergedCount(0)) < 0) {
    if (Date.now() > deadline)
      throw new Error(
        `the aggregator did not answer at ${metricsUrl}:\n${(await pm2('logs', '--nostream', '--lines', '50')).stdout}`,
      );
  }
}, 180_000);

afterAll(async () => {
  if (pm2Home) await pm2('kill').catch(() => {});
});

describe('PM2 cluster mode with the aggregator in fork mode (the aggregator README’s ecosystem.config.cjs)', () => {
  it(`${INSTANCES} instances: the merged count equals the requests sent`, async () => {
    await send(BATCH);
    await expectMergedCount(sent);
  });

  it('pm2 reload (each instance replaced in turn): nothing lost, nothing doubled', async () => {
    await pm2('reload', appName);
    await waitForInstances(appName, INSTANCES);
    await send(BATCH);
    await expectMergedCount(sent);
  });

  it('pm2 scale to 5 and back to 2: every request counted', async () => {
    await pm2('scale', appName, '5');
    await waitForInstances(appName, 5);
    await send(BATCH);
    await expectMergedCount(sent);
    await pm2('scale', appName, '2');
    await waitForInstances(appName, 2);
    await send(BATCH);
    await expectMergedCount(sent);
  });

  it(`kill -9 of an instance loses at most its unflushed requests (here at most the ${KILL_BURST} just sent)`, async () => {
    await expectMergedCount(sent);
    const before = sent;
    const [victim] = await instancePids(appName);
    await send(KILL_BURST);
    process.kill(victim ?? 0, 'SIGKILL');
    // PM2 starts a replacement; then more traffic, all of it counted.
    await waitForInstances(appName, 2, victim);
    const afterKill = await settledCount();
    expect(afterKill).toBeGreaterThanOrEqual(before);
    expect(afterKill).toBeLessThanOrEqual(sent);
    const lost = sent - afterKill;
    console.log(`kill -9 of instance ${victim}: ${lost} of the ${KILL_BURST} requests sent just before it lost`);
    await send(BATCH);
    await expectMergedCount(sent - lost);
  });

  it('no scrape ever saw the total go down', () => {
    expect(seen.length).toBeGreaterThan(10);
    const drops = seen.flatMap((v, i) => (i > 0 && v < (seen[i - 1] ?? 0) ? [`${seen[i - 1]} -> ${v}`] : []));
    expect(drops).toEqual([]);
  });
});
