/**
 * Issue #6: the store broken under the running backend — its database file replaced with garbage, its
 * directory replaced with a file. Requests are served all along by the same workers, each failure is logged
 * once per process, scrapes answer a clear 503, and once an operator removes the damage the workers write
 * everything they counted since their last successful flush: exactly the responses served since the damage.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Cluster,
  liveWorkerPids,
  logLines,
  pollUntil,
  requestTotal,
  scrapeRaw,
  startCluster,
} from './support/cluster.js';
import { LOAD_PATHS, Load, report, sendAll, sleep } from './support/load.js';

const WORKERS = 2;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Serve `n` requests and wait until the store has them all: after this, no worker has anything unwritten. */
async function servedAndFlushed(c: Cluster, n: number): Promise<void> {
  const requests = Array.from({ length: n }, (_, i) => ({ method: 'GET', path: LOAD_PATHS[i % 4] as string }));
  expect(new Set(await sendAll(c.backend.port, requests))).toEqual(new Set([200]));
  const counted = async () => requestTotal((await scrapeRaw(c.metricsPort)).body);
  expect(await pollUntil(counted, (total) => total === n)).toBe(n);
}

/**
 * Load the backend while the store is broken: until the aggregator answers 503 and the workers have tried to
 * flush a few more times. Returns the responses and the aggregator's answer.
 */
async function serveWhileBroken(c: Cluster) {
  const load = new Load(c.backend.port);
  const scrape = await pollUntil(
    () => scrapeRaw(c.metricsPort),
    (s) => s.status !== 200,
  );
  await sleep(6 * c.flushMs);
  const result = await load.stop();
  expect(result.errors).toEqual([]);
  expect(result.notOk).toEqual([]);
  expect(result.times.length).toBeGreaterThan(0);
  return { responses: result.times.length, scrape, again: await scrapeRaw(c.metricsPort) };
}

/** The aggregator's answer for a store it cannot read: 503 and one line, without paths or a stack trace. */
function expectClear503(c: Cluster, scrape: { status: number; body: string }): void {
  expect(scrape.status).toBe(503);
  expect(scrape.body).toMatch(/^metrics store unavailable: [A-Z_]+ \(see the aggregator log\)\n$/);
  expect(scrape.body).not.toContain(c.root);
}

describe('the store damaged under the running backend', () => {
  it('database replaced with garbage: served, 503, logged once; deleting it heals the store, nothing lost', async () => {
    const c = await startCluster({ workers: WORKERS });
    cluster = c;
    await servedAndFlushed(c, 200);
    const pids = liveWorkerPids(c.backend);
    const logMark = c.backend.output.length;

    // The database and its write-ahead log are replaced together. Replacing the database file alone while
    // its WAL holds committed frames pairs the garbage with the old WAL: SQLite then serves the WAL's pages
    // over it, writers keep "succeeding" into that WAL, and what they wrote is lost with it (reported to the
    // lead as a store bug; not what this test is about).
    const garbage = join(c.dir, 'garbage');
    writeFileSync(garbage, randomBytes(64 * 1024), { mode: 0o600 });
    renameSync(garbage, c.db);
    rmSync(`${c.db}-wal`, { force: true });
    rmSync(`${c.db}-shm`, { force: true });
    const { responses, scrape, again } = await serveWhileBroken(c);
    expectClear503(c, scrape);
    expectClear503(c, again);

    const log = c.backend.output.slice(logMark);
    const workerFailures = log.split('\n').filter((l) => l.includes('cannot write metrics store'));
    expect(workerFailures.length).toBeGreaterThanOrEqual(1);
    expect(workerFailures.length).toBeLessThanOrEqual(WORKERS);
    for (const line of workerFailures) expect(line).toContain(c.db);
    const aggregatorFailures = log.split('\n').filter((l) => l.includes('metrics store unreadable'));
    expect(aggregatorFailures).toHaveLength(1);
    expect(aggregatorFailures[0]).toContain(c.db);

    for (const file of [c.db, `${c.db}-wal`, `${c.db}-shm`]) rmSync(file, { force: true }); // what an operator does
    const counted = async () => requestTotal((await scrapeRaw(c.metricsPort)).body);
    expect(await pollUntil(counted, (total) => total === responses)).toBe(responses);
    await sleep(4 * c.flushMs);
    expect(await counted()).toBe(responses); // and not twice
    expect(liveWorkerPids(c.backend)).toEqual(pids);
    expect(c.backend.output).not.toMatch(/exited|restarting/);
    report({
      test: 'corrupt-db',
      servedWhileCorrupt: responses,
      scrapeStatus: scrape.status,
      scrapeBody: scrape.body.trim(),
      workerLogLines: workerFailures.length,
      aggregatorLogLines: aggregatorFailures.length,
      countedAfterDelete: await counted(),
    });
  });

  it('directory replaced with a file: served by the same workers, logged once; restoring it writes everything', async () => {
    const c = await startCluster({ workers: WORKERS });
    cluster = c;
    await servedAndFlushed(c, 200);
    const pids = liveWorkerPids(c.backend);
    const logMark = c.backend.output.length;

    rmSync(c.dir, { recursive: true });
    writeFileSync(c.dir, 'not a directory\n');
    const { responses, scrape } = await serveWhileBroken(c);
    expectClear503(c, scrape);
    expect(liveWorkerPids(c.backend)).toEqual(pids);
    expect(c.backend.output).not.toMatch(/exited|restarting/);
    const workerFailures = logLines(c.backend, /cannot write metrics store/).filter((l) =>
      c.backend.output.slice(logMark).includes(l),
    );
    expect(workerFailures.length).toBeGreaterThanOrEqual(1);
    expect(workerFailures.length).toBeLessThanOrEqual(WORKERS);
    for (const line of workerFailures) expect(line).toContain('not a directory');

    rmSync(c.dir);
    mkdirSync(c.dir, { mode: 0o700 });
    const counted = async () => requestTotal((await scrapeRaw(c.metricsPort)).body);
    expect(await pollUntil(counted, (total) => total === responses)).toBe(responses);
    await sleep(4 * c.flushMs);
    expect(await counted()).toBe(responses);
    expect(liveWorkerPids(c.backend)).toEqual(pids);
    report({
      test: 'dir-replaced-by-file',
      servedWhileBroken: responses,
      scrapeStatus: scrape.status,
      scrapeBody: scrape.body.trim(),
      workerLogLines: workerFailures.length,
      workerPidsUnchanged: true,
      countedAfterRestore: await counted(),
    });
  });
});
