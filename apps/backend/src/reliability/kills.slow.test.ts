/**
 * Issue #6: processes of the running demo killed with SIGKILL under load. Workers: the primary replaces
 * them, the database stays sound, scraped totals never go down, and each kill loses at most what the killed
 * worker answered since its last flush (one flush interval). The aggregator: workers are unaffected, the
 * primary restarts it, and its next scrape is complete.
 */
import { openStore } from '@kci-metrics/sqlite-store';
import { afterEach, describe, expect, it } from 'vitest';
import {
  aggregatorPid,
  type Cluster,
  integrity,
  liveWorkerPids,
  pollUntil,
  requestTotal,
  scrapeRaw,
  startCluster,
} from './support/cluster.js';
import { Load, report, sleep } from './support/load.js';

const WORKERS = 2;
const KILLS = 6;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Scrape every 100 ms until stopped; keeps the times, status and request total of every answer. */
function scrapeLoop(port: number) {
  const seen: Array<{ sentAt: number; at: number; status: number; total: number }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const sentAt = performance.now();
      const { status, body } = await scrapeRaw(port);
      seen.push({ sentAt, at: performance.now(), status, total: status === 200 ? requestTotal(body) : -1 });
      await sleep(100);
    }
  })();
  return {
    seen,
    totals: () => seen.filter((s) => s.status === 200).map((s) => s.total),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** The request total once it stopped moving for `quietMs` (every live worker has flushed what it had). */
async function settledTotal(c: Cluster, quietMs: number): Promise<number> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const now = performance.now();
    const total = requestTotal((await scrapeRaw(c.metricsPort)).body);
    if (total !== last) [last, since] = [total, now];
    else if (now - since >= quietMs) return total;
    await sleep(50);
  }
}

const nondecreasing = (values: number[]) => values.every((v, i) => i === 0 || v >= (values[i - 1] as number));

describe('SIGKILL under load', () => {
  it('of workers, six times: replaced, database sound, totals never go down, loss under one interval of traffic', async () => {
    const c = await startCluster({ workers: WORKERS, flushMs: 250 });
    cluster = c;
    const scrapes = scrapeLoop(c.metricsPort);
    const kills: Array<{
      loss: number;
      bound: number;
      intervals: number;
      served: number;
      reset: number;
      hung: number;
    }> = [];
    let responses = 0;
    let lost = 0;
    for (let k = 0; k < KILLS; k++) {
      // Each round: load, a kill in the middle of it, then quiet until the totals settle, which measures
      // exactly what this kill lost.
      const load = new Load(c.backend.port, { timeoutMs: 1_000 });
      const startedAt = performance.now();
      await sleep(700);
      const [victim] = liveWorkerPids(c.backend);
      const killedAt = performance.now();
      process.kill(victim as number, 'SIGKILL');
      await sleep(300);
      const result = await load.stop();
      expect(result.notOk).toEqual([]);
      responses += result.times.length;
      await c.backend.waitFor(new RegExp(`pid ${victim}\\) exited \\(SIGKILL\\); replacing`));
      await pollUntil(
        () => liveWorkerPids(c.backend).length,
        (n) => n === WORKERS,
      );
      const total = await settledTotal(c, 4 * c.flushMs);
      const loss = responses - total - lost;
      lost += loss;
      // The documented bound: what the killed worker answered since its last flush, about one interval.
      // From the client's side, every response of any worker in the interval before the kill (plus 100 ms
      // for a late timer and 50 ms for answers in transit) contains those: about twice as much with 2 workers,
      // which leaves room for a flush timer that fires late on a busy machine.
      const bound = load.between(killedAt - c.flushMs - 100, killedAt + 50);
      const hung = result.errors.filter((e) => e === 'TIMEOUT').length;
      // The loss in flush intervals: divided by what one worker answered per interval before the kill.
      const perWorkerInterval = (load.between(startedAt, killedAt) / (killedAt - startedAt)) * (c.flushMs / WORKERS);
      const intervals = Math.round((loss / perWorkerInterval) * 100) / 100;
      kills.push({ loss, bound, intervals, served: result.times.length, reset: result.errors.length - hung, hung });
    }
    await scrapes.stop();

    expect(liveWorkerPids(c.backend)).toHaveLength(WORKERS);
    expect(c.backend.output.match(/exited \(SIGKILL\); replacing/g)).toHaveLength(KILLS);
    expect(integrity(c.db)).toBe('ok');
    expect(nondecreasing(scrapes.totals())).toBe(true);
    const final = requestTotal((await scrapeRaw(c.metricsPort)).body);
    expect(final).toBeLessThanOrEqual(responses);
    for (const kill of kills) {
      expect(kill.loss).toBeGreaterThanOrEqual(0);
      expect(kill.loss).toBeLessThanOrEqual(kill.bound);
    }
    await c.backend.stop();
    expect(integrity(c.db)).toBe('ok');
    report({
      test: 'sigkill-workers',
      kills: KILLS,
      flushMs: c.flushMs,
      responses,
      counted: final,
      lossPerKill: kills.map((k) => k.loss),
      boundPerKill: kills.map((k) => k.bound),
      maxLoss: Math.max(...kills.map((k) => k.loss)),
      lossInFlushIntervalsPerKill: kills.map((k) => k.intervals),
      servedPerRound: kills.map((k) => k.served),
      connectionsResetPerKill: kills.map((k) => k.reset),
      connectionsNeverAnsweredPerKill: kills.map((k) => k.hung),
      scrapes: scrapes.seen.length,
      integrity: 'ok',
    });
  });

  it('of the aggregator during scrapes: workers unaffected, restarted, the next scrape complete', async () => {
    const c = await startCluster({ workers: WORKERS, flushMs: 250 });
    cluster = c;
    const primary = c.backend.child.pid as number;
    const workers = liveWorkerPids(c.backend);
    const scrapes = scrapeLoop(c.metricsPort);
    const load = new Load(c.backend.port);
    await sleep(500);

    const killAggregator = async (n: number) => {
      const pid = aggregatorPid(primary);
      expect(pid).toBeDefined();
      const killedAt = performance.now();
      process.kill(pid as number, 'SIGKILL');
      await pollUntil(
        () => c.backend.output.match(/aggregator exited \(SIGKILL\); restarting/g)?.length ?? 0,
        (count) => count === n,
      );
      const back = await pollUntil(
        () => scrapes.seen.find((s) => s.sentAt > killedAt && s.status === 200),
        (s) => s !== undefined,
        15_000,
      );
      expect(back).toBeDefined();
      expect(aggregatorPid(primary)).not.toBe(pid);
      return { killedAt, back: back as { at: number; total: number } };
    };

    // Twice while requests are served.
    const outages = [];
    for (const n of [1, 2]) {
      const { killedAt, back } = await killAggregator(n);
      outages.push({ ms: Math.round(back.at - killedAt), served: load.between(killedAt, back.at) });
      await sleep(500);
    }
    const result = await load.stop();
    expect(result.errors).toEqual([]);
    expect(result.notOk).toEqual([]);
    for (const outage of outages) expect(outage.served).toBeGreaterThan(0);

    // Once the workers have flushed everything (read from the store itself, not through the aggregator),
    // a third kill: the first scrape the new aggregator answers has every response.
    const responses = result.times.length;
    const store = openStore({ dir: c.dir, logger: { warn() {} } });
    try {
      const flushed = async () => requestTotal(await store.metrics());
      expect(await pollUntil(flushed, (n) => n === responses)).toBe(responses);
    } finally {
      store.close();
    }
    const { back } = await killAggregator(3);
    await scrapes.stop();
    expect(back.total).toBe(responses);
    expect(nondecreasing(scrapes.totals())).toBe(true);
    expect(liveWorkerPids(c.backend)).toEqual(workers);
    expect(c.backend.output).not.toMatch(/worker \d+ \(pid \d+\) exited/);
    report({
      test: 'sigkill-aggregator',
      kills: 3,
      outagesMs: outages.map((o) => o.ms),
      servedDuringOutages: outages.map((o) => o.served),
      responses,
      firstScrapeAfterRestart: back.total,
      failedScrapes: scrapes.seen.filter((s) => s.status !== 200).length,
    });
  });
});
