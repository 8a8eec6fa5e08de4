/**
 * churn (issue #6): a thousand short-lived writer processes, a third of them SIGKILLed after their flush,
 * the others exiting cleanly; meanwhile an aggregator-side reader scrapes (and so folds dead writers) once
 * per BENCH_CHURN_SCRAPE_EVERY writers started. Afterwards, in the same run, the churned store is compared
 * with a store that only had two writers: database size once closed, rows, and scrape time (median of
 * rounds that read both stores in turn, so both see the same machine noise). Totals are checked first.
 *
 * node bench/churn.mjs                       # 1000 writers, 16 at a time, a scrape every 50 writers
 * BENCH_CHURN_SCRAPE_EVERY=0 node bench/churn.mjs   # no scrape until the end: the worst case for size
 * Env: BENCH_CHURN_WRITERS (1000; 300 with BENCH_QUICK=1), BENCH_CHURN_PARALLEL (16).
 * One JSON line on stdout (`"bench":"churn"`); progress on stderr.
 *
 * Internally the same file is the writer: `node bench/churn.mjs --writer <dir> exit|wait <index>`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, envInt, median, msSince, QUICK, round } from './lib/stats.mjs';

const { openStore } = await loadStore();
/** better-sqlite3 as the store resolves it: the bench reads row counts and page counts below the store's API. */
const Database = createRequire(new URL('../packages/sqlite-store/package.json', import.meta.url))('better-sqlite3');

if (process.argv[2] === '--writer') await writer(...process.argv.slice(3));
else await main();

/**
 * One short-lived writer: a counter, a histogram and gauges in modes that outlive the process (sum, max)
 * or not (livesum); flush, say so on stdout, count one more job (written only by a clean exit's flush),
 * then exit or wait for the parent's SIGKILL.
 */
async function writer(dir, after, index) {
  const registry = new promClient.Registry();
  const jobs = new promClient.Counter({ name: 'churn_jobs_total', help: 'Jobs', registers: [registry] });
  const seconds = new promClient.Histogram({
    name: 'churn_job_seconds',
    help: 'Time',
    buckets: [1, 2],
    registers: [registry],
  });
  const gauge = (name, mode) =>
    new promClient.Gauge({ name, help: mode, multiprocessMode: mode, registers: [registry] });
  gauge('churn_workers', 'sum').set(1);
  gauge('churn_highest', 'max').set(Number(index));
  gauge('churn_live', 'livesum').set(1);
  jobs.inc();
  seconds.observe(1.5);
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: countingLogger() });
  store.attach(registry);
  // Writers starting together contend for the write lock: a flush gives up after 50 ms and is retried,
  // after a pause that grows with each attempt.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; !store.flush(); attempt++) {
    if (attempt === 100) process.exit(3);
    Atomics.wait(pause, 0, 0, Math.min(5 * attempt, 100));
  }
  jobs.inc();
  writeSync(1, 'flushed\n');
  if (after === 'exit') process.exit(0);
  // Blocked until the SIGKILL: a timer flush (the first comes at a random point of the interval) would
  // write the increment the kill is meant to lose.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

async function main() {
  const writers = envInt('BENCH_CHURN_WRITERS', QUICK ? 300 : 1000);
  const parallel = envInt('BENCH_CHURN_PARALLEL', 16);
  const rawEvery = process.env.BENCH_CHURN_SCRAPE_EVERY ?? '50';
  const scrapeEvery = Number(rawEvery);
  if (!Number.isInteger(scrapeEvery) || scrapeEvery < 0) {
    throw new Error(
      `Invalid BENCH_CHURN_SCRAPE_EVERY ${JSON.stringify(rawEvery)}: expected an integer >= 0 (0: no scrape)`,
    );
  }
  const root = mkdtempSync(join(tmpdir(), 'kci-bench-churn-'));
  try {
    const small = join(root, 'two-writers');
    await churn(small, 2, parallel, 0, () => {});
    const dir = join(root, 'churned');
    const reader = openStore({ dir, logger: countingLogger() });
    let peakWriterRows = 0;
    const started = process.hrtime.bigint();
    const killed = await churn(dir, writers, parallel, scrapeEvery, async (done) => {
      peakWriterRows = Math.max(peakWriterRows, writerRows(dir));
      await reader.metrics();
      process.stderr.write(`[churn] ${done}/${writers} writers\n`);
    });
    const churnMs = msSince(started);
    peakWriterRows = Math.max(peakWriterRows, writerRows(dir));

    const text = await reader.metrics(); // folds all but the 16 most recent dead writers
    const jobs = sampleOf(text, 'churn_jobs_total');
    const expectedJobs = 2 * (writers - killed) + killed;
    if (jobs !== expectedJobs || sampleOf(text, 'churn_job_seconds_count') !== writers) {
      throw new Error(`wrong totals after the churn: churn_jobs_total ${jobs}, expected ${expectedJobs}`);
    }
    const baseline = openStore({ dir: small, logger: countingLogger() });
    const timing = await compareScrapes(reader, baseline);
    const health = reader.health();
    reader.close();
    baseline.close();
    const churned = inspect(dir);
    const base = inspect(small);
    emit({
      bench: 'churn',
      writers,
      killed,
      parallel,
      scrapeEvery,
      churnSeconds: round(churnMs / 1000, 1),
      writersPerSecond: round(writers / (churnMs / 1000), 1),
      peakWriterRows,
      writerRowsAfter: churned.writers,
      deadWritersAfter: health.deadWriters,
      foldedWriters: health.foldedWriters,
      seriesRows: churned.series,
      baseSeriesRows: base.series,
      bytes: churned.bytes,
      baseBytes: base.bytes,
      sizeRatio: round(churned.bytes / base.bytes, 2),
      pages: churned.pages,
      freePages: churned.freePages,
      basePages: base.pages,
      ...timing,
      loadavg: loadavg().map((l) => round(l, 2)),
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Run `n` writers, `parallel` at a time, every third one killed; `scrape(done)` every `every` writers (0: never). */
async function churn(dir, n, parallel, every, scrape) {
  let next = 0;
  let killed = 0;
  let failure;
  const lane = async () => {
    while (next < n && failure === undefined) {
      const i = next++;
      const kill = i % 3 === 2;
      if (kill) killed++;
      try {
        if (every > 0 && i > 0 && i % every === 0) await scrape(i);
        await runWriter(dir, i, kill);
      } catch (error) {
        failure ??= error; // the other lanes finish their writer, then stop
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  if (failure !== undefined) throw failure;
  return killed;
}

function runWriter(dir, i, kill) {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, '--writer', dir, kill ? 'wait' : 'exit', String(i)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', () => kill && child.kill('SIGKILL'));
  return new Promise((resolve, reject) =>
    child.once('exit', (code, signal) => {
      if (kill ? signal === 'SIGKILL' : code === 0) resolve();
      else reject(new Error(`writer ${i} ended with ${code ?? signal}`));
    }),
  );
}

/** Scrape both stores in turn, 41 rounds after 3 warm-ups each: medians and the median per-round ratio. */
async function compareScrapes(churned, baseline) {
  const times = { churned: [], baseline: [] };
  for (let round = -3; round < 41; round++) {
    for (const [name, store] of [
      ['churned', churned],
      ['baseline', baseline],
    ]) {
      const start = process.hrtime.bigint();
      await store.metrics();
      if (round >= 0) times[name].push(msSince(start));
    }
  }
  return {
    scrapeMs: round(median(times.churned), 3),
    baseScrapeMs: round(median(times.baseline), 3),
    scrapeRatio: round(median(times.churned.map((t, i) => t / times.baseline[i])), 2),
  };
}

function writerRows(dir) {
  const db = new Database(join(dir, 'kci-metrics.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) AS n FROM writers').get().n;
  } finally {
    db.close();
  }
}

/** Rows and size of a closed store (the last connection's close checkpointed the WAL into the file). */
function inspect(dir) {
  const path = join(dir, 'kci-metrics.sqlite');
  const db = new Database(path, { readonly: true });
  try {
    const count = (table) => db.prepare(`SELECT count(*) AS n FROM ${table}`).get().n;
    return {
      writers: count('writers'),
      series: count('series'),
      pages: db.pragma('page_count', { simple: true }),
      freePages: db.pragma('freelist_count', { simple: true }),
      bytes: statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0),
    };
  } finally {
    db.close();
  }
}

function sampleOf(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
