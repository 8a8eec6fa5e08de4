/**
 * Issue #6: the metrics database locked by another process for 10 s while the demo backend serves a steady
 * load. Requests keep being served, each worker logs the failure once, the aggregator keeps answering and
 * shows the stalled writers, and once the lock is gone every response is counted exactly once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, logLines, pollUntil, requestTotal, sample, scrapeRaw, startCluster } from './support/cluster.js';
import { Load, report, sleep } from './support/load.js';

const LOCK_MS = 10_000;
const WORKERS = 2;
const LOCKER = fileURLToPath(new URL('./support/locker.mjs', import.meta.url));

/** Scrape every 250 ms until stopped, keeping each answer's status and the stalled-writers gauge. */
function scrapeLoop(port: number) {
  const seen: Array<{ at: number; status: number; stalled: number | undefined }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const { status, body } = await scrapeRaw(port);
      seen.push({ at: performance.now(), status, stalled: sample(body, 'kci_metrics_store_writers{state="stalled"}') });
      await sleep(250);
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('the store locked by another process for 10 s under load', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ workers: WORKERS, flushMs: 250 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps serving, logs once per worker, reports stalled writers, then counts every response once', async () => {
    const { backend, metricsPort, db } = cluster;
    const load = new Load(backend.port);
    const scrapes = scrapeLoop(metricsPort);
    await sleep(1_000); // warm-up: the first requests of a worker are slower (JIT)

    // Unlocked windows of the same total length, in the same run, half before and half after the lock, so
    // that load from elsewhere on the machine that drifts during the run weighs on both sides alike.
    const before = { from: performance.now(), to: 0 };
    await sleep(LOCK_MS / 2);
    before.to = performance.now();

    const locker = spawn(process.execPath, [LOCKER, db, String(LOCK_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    locker.stdout.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n')));
    const lockedAt = await pollUntil(
      () => (lines.includes('locked') ? performance.now() : 0),
      (t) => t > 0,
    );
    expect(lines).toContain('locked');
    await once(locker, 'exit');
    expect(lines).toContain('released');
    const releasedAt = performance.now();

    await sleep(LOCK_MS / 2);
    const after = { from: releasedAt, to: performance.now() };
    const result = await load.stop();
    await scrapes.stop();
    expect(result.errors).toEqual([]);
    expect(result.notOk).toEqual([]);

    const servedLocked = load.between(lockedAt, releasedAt);
    const servedFree = load.between(before.from, before.to) + load.between(after.from, after.to);
    expect(servedLocked).toBeGreaterThan(0);

    // The aggregator answered every scrape during the lock, and saw the workers stall.
    const duringLock = scrapes.seen.filter((s) => s.at > lockedAt && s.at <= releasedAt);
    expect(duringLock.length).toBeGreaterThan(0);
    expect(duringLock.filter((s) => s.status !== 200)).toEqual([]);
    const maxStalled = Math.max(...duringLock.map((s) => s.stalled ?? 0));
    expect(maxStalled).toBeGreaterThan(0);

    // Every response counted, once: nothing lost while locked, nothing written twice after.
    const responses = result.times.length;
    const counted = async () => requestTotal((await scrapeRaw(metricsPort)).body);
    expect(await pollUntil(counted, (n) => n === responses)).toBe(responses);
    await sleep(4 * cluster.flushMs);
    const last = await scrapeRaw(metricsPort);
    expect(requestTotal(last.body)).toBe(responses);
    expect(sample(last.body, 'kci_metrics_store_writers{state="stalled"}')).toBe(0);
    const flushFailures = sample(last.body, 'kci_metrics_store_flush_failures_total') ?? 0;
    expect(flushFailures).toBeGreaterThan(0);

    // Logged once per worker, with the path and the cause, not once per flush or request.
    const failures = logLines(backend, /cannot write metrics store/);
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.length).toBeLessThanOrEqual(WORKERS);
    for (const line of failures) expect(line).toContain(db);
    for (const line of failures) expect(line).toContain('SQLITE_BUSY');
    expect(logLines(backend, /writable again/).length).toBeLessThanOrEqual(WORKERS);
    expect(backend.output).not.toMatch(/exited|restarting/);

    const seconds = (ms: number) => ms / 1000;
    const rpsLocked = servedLocked / seconds(releasedAt - lockedAt);
    const rpsFree = servedFree / seconds(before.to - before.from + after.to - after.from);
    report({
      test: 'store-lock',
      lockSeconds: Math.round(seconds(releasedAt - lockedAt) * 10) / 10,
      flushMs: cluster.flushMs,
      servedDuringLock: servedLocked,
      servedUnlockedWindows: servedFree,
      rpsLocked: Math.round(rpsLocked),
      rpsUnlocked: Math.round(rpsFree),
      lockedOverUnlocked: Math.round((rpsLocked / rpsFree) * 100) / 100,
      latencyMsLocked: load.latencyBetween(lockedAt, releasedAt),
      latencyMsUnlockedBefore: load.latencyBetween(before.from, before.to),
      latencyMsUnlockedAfter: load.latencyBetween(after.from, after.to),
      maxStalledWriters: maxStalled,
      scrapesDuringLock: duringLock.length,
      flushFailures,
      failureLogLines: failures.length,
      responses,
      counted: requestTotal(last.body),
    });
  });
});
