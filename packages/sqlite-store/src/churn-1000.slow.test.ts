/**
 * Issue #6, churn: hundreds of short-lived writer processes (a third SIGKILLed, the others exiting cleanly),
 * with the aggregator's periodic scrapes beside them as in a deployment. Afterwards the store must look like
 * one that only ever had two writers: same series, bounded writer rows, a database of about the same size,
 * and exact totals. A thousand writers, as the issue asks (about 200 s of CPU, 100-120 s on 2 cores: each
 * one is a Node process that loads prom-client and the store); `node bench/churn.mjs` also times the scrapes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { collectGarbage, DEAD_RETENTION_MS, viewWriters } from './gc.js';
import { openStore } from './index.js';
import { openDatabase } from './schema.js';
import { prepareStatements } from './statements.js';
import { FIXTURES, removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, samplesOf, sampleValue } from './test-support/exposition.js';

const WRITERS = 1000;
const PARALLEL = 16;
/** Every third writer is SIGKILLed after its flush; the others exit (their exit flush writes one more job). */
const KILL_EVERY = 3;
/** The aggregator's scrape (which folds dead writers) comes once per this many writers started. */
const SCRAPE_EVERY = 50;
const RETAINED_DEAD = 16;
const quiet = { warn() {} };

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});
afterAll(removeTempDirs);

/** Run test-support/churn-writer.mjs to its end: "exit" cleanly, or SIGKILL it once it has flushed. */
function runWriter(dir: string, i: number, kill: boolean): Promise<string | undefined> {
  const child = spawn(process.execPath, [join(FIXTURES, 'churn-writer.mjs'), dir, kill ? 'wait' : 'exit', String(i)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout?.on('data', () => {
    if (kill) child.kill('SIGKILL');
  });
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      const expected = kill ? signal === 'SIGKILL' : code === 0;
      // An unexpected end comes back as a description, so the assertion shows it. Log lines alone (a flush
      // that found the lock busy three times in a row, among 16 writers starting together) are not one.
      resolve(expected ? undefined : `writer ${i}: ${code ?? signal} ${stderr}`);
    }),
  );
}

/** `n` writers, PARALLEL at a time, with `scrape()` called each time SCRAPE_EVERY more have started. */
async function churn(
  dir: string,
  n: number,
  scrape: () => Promise<void>,
): Promise<{ killed: number; problems: string[] }> {
  let next = 0;
  let killed = 0;
  const problems: string[] = [];
  const lane = async () => {
    while (next < n) {
      const i = next++;
      if (i > 0 && i % SCRAPE_EVERY === 0) await scrape();
      const kill = i % KILL_EVERY === KILL_EVERY - 1;
      if (kill) killed++;
      const problem = await runWriter(dir, i, kill);
      if (problem) problems.push(problem);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, n) }, lane));
  return { killed, problems };
}

function rows(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      writers: count('writers'),
      series: count('series'),
      gauges: count('gauges'),
      declarations: count('writer_metrics'),
      pages: db.pragma('page_count', { simple: true }) as number,
      freePages: db.pragma('freelist_count', { simple: true }) as number,
    };
  } finally {
    db.close();
  }
}

/** Database size once every connection closed (the last close checkpoints the WAL into it). */
function storedBytes(path: string): number {
  return statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
}

async function medianScrapeMs(store: ReturnType<typeof openStore>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const start = performance.now();
    await store.metrics();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[7] as number;
}

describe('short-lived writer processes', () => {
  it(`${WRITERS} of them leave a store like a two-writer one: same series, few writer rows, same size, exact totals`, async () => {
    const small = tempDir().dir;
    const pair = await churn(small, 2, async () => {});
    expect(pair.problems).toEqual([]);
    const baseline = openStore({ dir: small, logger: quiet });
    const baseText = await baseline.metrics();
    const baseScrapeMs = await medianScrapeMs(baseline);
    baseline.close();

    const { dir } = tempDir();
    const aggregator = openStore({ dir, logger: quiet });
    const started = performance.now();
    const { killed, problems } = await churn(dir, WRITERS, async () => void (await aggregator.metrics()));
    const churnSeconds = (performance.now() - started) / 1000;
    expect(problems).toEqual([]);
    expect(killed).toBe(Math.floor(WRITERS / KILL_EVERY));

    const text = await aggregator.metrics(); // folds all but the RETAINED_DEAD most recent dead writers
    expect(aggregator.health()).toMatchObject({
      liveWriters: 0,
      deadWriters: RETAINED_DEAD,
      foldedWriters: WRITERS - RETAINED_DEAD,
    });
    const { flushFailures } = aggregator.health();
    const scrapeMs = await medianScrapeMs(aggregator);
    aggregator.close();

    // Totals over every writer that ever ran: 2 jobs per clean exit, 1 per kill (its second was never flushed).
    const exp = parseExposition(text);
    expect(sampleValue(exp, 'churn_jobs_total', { kind: 'k' })).toBe(2 * (WRITERS - killed) + killed);
    expect(sampleValue(exp, 'churn_job_seconds_count')).toBe(WRITERS);
    expect(sampleValue(exp, 'churn_job_seconds_sum')).toBe(1.5 * WRITERS);
    expect(sampleValue(exp, 'churn_workers')).toBe(WRITERS); // mode sum keeps the folded processes' values
    expect(sampleValue(exp, 'churn_highest')).toBe(WRITERS - 1); // mode max
    expect(samplesOf(exp, 'churn_live')).toEqual([]); // mode livesum: nobody is alive
    // Same lines as the two-writer store's exposition (so the same scrape work), values aside.
    const shape = (t: string) => t.split('\n').map((line) => line.replace(/ [^ ]+$/, ''));
    expect(shape(text)).toEqual(shape(baseText));

    const db = join(dir, 'kci-metrics.sqlite');
    const churned = rows(db);
    const base = rows(join(small, 'kci-metrics.sqlite'));
    expect(churned.series).toBe(base.series);
    expect(churned.writers).toBe(RETAINED_DEAD);
    expect(churned.gauges).toBeLessThanOrEqual(RETAINED_DEAD * 3);
    expect(churned.declarations).toBeLessThanOrEqual(RETAINED_DEAD * 5);
    const bytes = storedBytes(db);
    const baseBytes = storedBytes(join(small, 'kci-metrics.sqlite'));
    console.log(
      `RELIABILITY ${JSON.stringify({
        test: 'churn',
        writers: WRITERS,
        killed,
        flushFailures,
        parallel: PARALLEL,
        scrapeEveryWriters: SCRAPE_EVERY,
        churnSeconds: Math.round(churnSeconds * 10) / 10,
        bytes,
        baseBytes,
        sizeRatio: Math.round((bytes / baseBytes) * 100) / 100,
        pages: churned.pages,
        freePages: churned.freePages,
        basePages: base.pages,
        scrapeMs: Math.round(scrapeMs * 1000) / 1000,
        baseScrapeMs: Math.round(baseScrapeMs * 1000) / 1000,
      })}`,
    );
    expect(bytes).toBeLessThanOrEqual(2 * baseBytes);
  }, 600_000);

  it('a dead one folded by two processes at the same time is counted once', async () => {
    const { dir } = tempDir();
    expect(await runWriter(dir, 7, false)).toBeUndefined();
    const path = join(dir, 'kci-metrics.sqlite');
    const [a, b] = [openDatabase(path, 1000), openDatabase(path, 1000)];
    const [sa, sb] = [prepareStatements(a), prepareStatements(b)];
    try {
      // Past the retention period every dead writer is folded. A looks at the writers, then B folds them
      // before A's transaction starts: the interleaving of two scrapes, or a scrape and a writer's fold.
      const later = Date.now() + DEAD_RETENTION_MS;
      const seenByA = viewWriters(sa, later);
      collectGarbage(b, sb, later);
      collectGarbage(a, sa, later, seenByA);
    } finally {
      a.close();
      b.close();
    }
    const reader = openStore({ dir, logger: quiet });
    try {
      expect(reader.health()).toMatchObject({ liveWriters: 0, deadWriters: 0, foldedWriters: 1, flushFailures: 0 });
      const exp = parseExposition(await reader.metrics());
      expect(sampleValue(exp, 'churn_workers')).toBe(1);
      expect(sampleValue(exp, 'churn_jobs_total', { kind: 'k' })).toBe(2);
    } finally {
      reader.close();
    }
  });
});
