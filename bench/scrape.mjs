/**
 * scrape: median time to produce the merged text exposition, store.metrics() vs prom-client's
 * AggregatorRegistry.clusterMetrics(), on the same W cluster workers holding the same S series each.
 * Run as the cluster primary (node bench/scrape.mjs); prints one JSON line per (W, S) cell.
 */
import cluster from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, FULL, listFromEnv, median, msSince, QUICK, round, sleep } from './lib/stats.mjs';
import { COUNTER_INC, counterTotal } from './lib/workload.mjs';

const { openStore } = await loadStore();
const aggregator = new promClient.AggregatorRegistry();

const WORKERS = listFromEnv('BENCH_WORKERS') ?? [2, 8, 32];
const SERIES = listFromEnv('BENCH_SERIES') ?? (QUICK ? [100, 1000] : [100, 1000, 10000]);
/** Store reads thrown away first: the first opens the database, the next ones let the JIT settle. */
const STORE_WARMUP = 3;
/** Per side: stop after `max` repetitions, or after `budgetMs` once `min` are done. */
const REPS = {
  store: { min: 5, max: QUICK ? 9 : 21, budgetMs: 3000 },
  aggregator: { min: QUICK ? 2 : 3, max: QUICK ? 5 : 11, budgetMs: QUICK ? 4000 : 10000 },
};

cluster.setupPrimary({ exec: fileURLToPath(new URL('./scrape-worker.mjs', import.meta.url)) });

for (const series of SERIES) {
  for (const workers of WORKERS) {
    const skipAggregator = workers * series > 100_000 && !FULL;
    await runCell(workers, series, skipAggregator);
  }
}

async function runCell(workers, series, skipAggregator) {
  const dir = mkdtempSync(join(tmpdir(), 'kci-bench-scrape-'));
  const started = process.hrtime.bigint();
  const ready = await forkWorkers(workers, { BENCH_DIR: dir, BENCH_SERIES: String(series) });
  const setupMs = msSince(started);
  const store = openStore({ dir, logger: countingLogger() });
  try {
    const expected = workers * series * COUNTER_INC;
    const sides = { store: () => store.metrics() };
    if (!skipAggregator) sides.aggregator = () => aggregator.clusterMetrics();
    // Warm-up (first read opens the database and prepares statements), and a check that both sides
    // merged every worker's values: a fast but incomplete answer would be meaningless.
    const bytes = {};
    for (const [name, run] of Object.entries(sides)) {
      if (name === 'aggregator' && workers * series > 50_000) continue; // too slow to throw a rep away
      for (let i = 0; i < (name === 'store' ? STORE_WARMUP : 1); i++) {
        const text = await run();
        bytes[name] = Buffer.byteLength(text);
        const total = counterTotal(text);
        if (total !== expected) throw new Error(`${name} merged http_requests_total=${total}, expected ${expected} (W=${workers}, S=${series})`);
      }
    }
    const { times, errors } = await measure(sides);
    const aggregatorFailed = errors.aggregator !== undefined && times.aggregator.length === 0;
    const result = {
      bench: 'scrape',
      W: workers,
      S: series,
      storeMs: round(median(times.store)),
      storeReps: times.store.length,
      storeMinMs: round(Math.min(...times.store)),
      aggregatorMs: skipAggregator || aggregatorFailed ? null : round(median(times.aggregator)),
      aggregatorReps: skipAggregator ? 0 : times.aggregator.length,
      ratio: skipAggregator || aggregatorFailed ? null : round(median(times.aggregator) / median(times.store), 1),
      exposeBytes: bytes.store,
      setupMs: round(setupMs, 0),
      firstFlushRetries: ready.reduce((n, r) => n + r.retries, 0),
      workerRssMb: round(median(ready.map((r) => r.rssMb)), 0),
    };
    if (skipAggregator) result.aggregatorSkipped = 'W*S > 100000; BENCH_FULL=1 runs it';
    if (errors.aggregator) result.aggregatorError = errors.aggregator;
    emit(result);
  } finally {
    store.close();
    await stopWorkers();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Alternate the sides rep by rep, so both see the same machine noise (other work on a shared machine).
 * A side that fails (AggregatorRegistry gives up after 5 s) is not asked again in this cell: its late
 * answers are still merged in the background and would only slow the other side down.
 */
async function measure(sides) {
  const names = Object.keys(sides);
  const times = Object.fromEntries(names.map((k) => [k, []]));
  const spent = Object.fromEntries(names.map((k) => [k, 0]));
  const errors = {};
  const done = (k) =>
    errors[k] !== undefined || times[k].length >= REPS[k].max || (times[k].length >= REPS[k].min && spent[k] >= REPS[k].budgetMs);
  while (!names.every(done)) {
    for (const name of names) {
      if (done(name)) continue;
      const t0 = process.hrtime.bigint();
      try {
        const text = await sides[name]();
        if (typeof text !== 'string' || text.length === 0) throw new Error('empty exposition');
      } catch (err) {
        errors[name] = `${err.message} (after ${Math.round(msSince(t0))} ms)`;
        await sleep(3000);
        continue;
      }
      const ms = msSince(t0);
      times[name].push(ms);
      spent[name] += ms;
    }
  }
  return { times, errors };
}

function forkWorkers(count, env) {
  return Promise.all(
    Array.from({ length: count }, () => {
      const worker = cluster.fork(env);
      return new Promise((resolve, reject) => {
        const onExit = (code) => reject(new Error(`scrape worker ${worker.process.pid} exited with ${code} before it was ready`));
        worker.once('exit', onExit);
        worker.on('message', (msg) => {
          if (msg?.type !== 'bench:ready') return;
          worker.off('exit', onExit);
          resolve(msg);
        });
      });
    }),
  );
}

async function stopWorkers() {
  const all = Object.values(cluster.workers ?? {});
  await Promise.all(
    all.map(
      (worker) =>
        new Promise((resolve) => {
          worker.once('exit', resolve);
          worker.disconnect();
        }),
    ),
  );
}
