/**
 * aggregator-scrape: the aggregator's whole scrape (store read, its own metrics, the joined body) of this
 * build against another build, side by side in one process, on the same store and the same live writers.
 * Issue 15 replaced "store.metrics(), then store.health(), then splice our text before # EOF" by one
 * store.scrape() that renders the aggregator's families itself; this measures what that costs.
 *
 *   BENCH_BASELINE=/path/to/built/checkout node --expose-gc bench/aggregator-scrape.mjs
 *
 * BENCH_BASELINE is the root of another checkout of this repository, built (`pnpm build`); its
 * apps/aggregator/dist/scrape.js is loaded beside ours, each with its own @kci-metrics/sqlite-store.
 * BENCH_WORKERS (default 2,8) writer processes each hold BENCH_SERIES (default 1000,10000) series of the
 * workload (lib/workload.mjs). Before timing, both builds must serve the same body (the duration and
 * file size samples aside) with the complete total. Then, per format, the two sides alternate rep by rep (order swapped every
 * round, a collected heap before each rep); `ratio` = this build / baseline, the median of per-round ratios.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countingLogger } from './lib/deps.mjs';
import { emit, listFromEnv, median, msSince, round } from './lib/stats.mjs';
import { COUNTER_INC } from './lib/workload.mjs';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const BASELINE = process.env.BENCH_BASELINE;
/** BENCH_CURRENT: another checkout in place of this one (BENCH_CURRENT=BENCH_BASELINE measures the harness's own bias). */
const CURRENT = process.env.BENCH_CURRENT || HERE;
if (!BASELINE) throw new Error('Set BENCH_BASELINE to the root of a built checkout to compare with');
const WORKERS = listFromEnv('BENCH_WORKERS') ?? [2, 8];
const SERIES = listFromEnv('BENCH_SERIES') ?? [1000, 10000];
const collect = globalThis.gc ?? (() => {});
const quiet = { info() {}, warn() {}, error() {} };

/** A build's Scraper over its own reader store on `dir`. */
async function scraperOf(root, dir) {
  const load = (path) => import(pathToFileURL(join(resolve(root), path)).href);
  const { Scraper } = await load('apps/aggregator/dist/scrape.js');
  const { StoreWatch } = await load('apps/aggregator/dist/store-watch.js');
  const { openStore } = await load('packages/sqlite-store/dist/index.js');
  const store = openStore({ dir, logger: countingLogger() });
  const scraper = new Scraper(store, new StoreWatch(quiet));
  return {
    store,
    async scrape(format) {
      const result = await scraper.scrape(format);
      if (!result.ok) throw new Error(`scrape failed: ${result.status} ${result.message}`);
      return result.exposition.body.toString('utf8');
    },
  };
}

/** W writer processes (bench/scrape-worker.mjs, idle after their first flush) on `dir`. */
async function startWriters(dir, workers, series) {
  const children = [];
  for (let i = 0; i < workers; i++) {
    const child = fork(join(HERE, 'bench/scrape-worker.mjs'), [], {
      env: { ...process.env, BENCH_DIRS: dir, BENCH_SERIES: String(series) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(child);
    await new Promise((ready, fail) => {
      child.on('message', (m) => m?.type === 'bench:ready' && ready());
      child.on('exit', (code) => fail(new Error(`writer exited ${code}`)));
    });
  }
  return () => Promise.all(children.map((c) => new Promise((done) => c.once('exit', done) && c.disconnect())));
}

// The duration differs from one scrape to the next; the file size too when an idle writer's timer flushes.
const stable = (text) => text.replace(/^kci_metrics_(scrape_duration_seconds|store_size_bytes) .*$/gm, '');
const total = (text) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('http_requests_total'))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

for (const series of SERIES) {
  for (const workers of WORKERS) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-aggregator-scrape-'));
    const stop = await startWriters(dir, workers, series);
    const sides = { current: await scraperOf(CURRENT, dir), baseline: await scraperOf(BASELINE, dir) };
    try {
      for (const format of ['prometheus', 'openmetrics']) {
        const current = await sides.current.scrape(format);
        const baseline = await sides.baseline.scrape(format);
        if (stable(current) !== stable(baseline)) {
          const a = stable(current).split('\n');
          const b = stable(baseline).split('\n');
          const i = a.findIndex((line, k) => line !== b[k]);
          throw new Error(`the two builds serve different ${format} bodies, from line ${i + 1}: ${a[i]} | ${b[i]}`);
        }
        if (total(current) !== workers * series * COUNTER_INC) throw new Error(`incomplete ${format} body`);
        const times = { current: [], baseline: [] };
        const ratios = [];
        const reps = series >= 10000 ? 11 : 31;
        for (let round = 0; round < reps + 2; round++) {
          const order = round % 2 ? ['baseline', 'current'] : ['current', 'baseline'];
          const ms = {};
          for (const side of order) {
            collect();
            const start = process.hrtime.bigint();
            await sides[side].scrape(format);
            ms[side] = msSince(start);
          }
          if (round < 2) continue; // warm-up
          times.current.push(ms.current);
          times.baseline.push(ms.baseline);
          ratios.push(ms.current / ms.baseline);
        }
        const record = {
          bench: 'aggregator-scrape',
          format,
          workers,
          series,
          currentMs: round(median(times.current)),
          baselineMs: round(median(times.baseline)),
          ratio: round(median(ratios)),
          reps,
        };
        emit(record);
        process.stderr.write(
          `W=${workers} S=${series} ${format}: this build ${record.currentMs} ms, baseline ${record.baselineMs} ms, ratio ${record.ratio}\n`,
        );
      }
    } finally {
      sides.current.store.close();
      sides.baseline.store.close();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
