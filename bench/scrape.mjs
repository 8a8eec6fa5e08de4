/**
 * scrape: median time to produce the merged text exposition, store.metrics() vs prom-client's
 * AggregatorRegistry.clusterMetrics(), on the same cluster workers holding the same S series each.
 * Run as the cluster primary (node --expose-gc bench/scrape.mjs). For each S it forks max(W) workers
 * once; worker i writes the store of every W > i. Then:
 *   1. `scrape-scaling`: the stores of every W are read in turn, rep by rep (one line per S): how the
 *      store's cost depends on W, with all stores sharing the same machine noise;
 *   2. `scrape`: for each W, largest first, the workers beyond W are stopped and store.metrics() is timed
 *      alternately with AggregatorRegistry.clusterMetrics() over the W remaining workers (one line per cell).
 */
import cluster from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, FULL, listFromEnv, median, msSince, QUICK, round, sleep } from './lib/stats.mjs';
import { COUNTER_INC, counterTotal } from './lib/workload.mjs';

const { openStore } = await loadStore();
const aggregator = new promClient.AggregatorRegistry();

const WORKERS = (listFromEnv('BENCH_WORKERS') ?? [2, 8, 32]).sort((a, b) => b - a);
const SERIES = listFromEnv('BENCH_SERIES') ?? (QUICK ? [100, 1000] : [100, 1000, 10000]);
/** BENCH_AGGREGATOR=0: store only (to profile it with --cpu-prof). */
const NO_AGGREGATOR = process.env.BENCH_AGGREGATOR === '0';
/** Beyond this many worker-series, AggregatorRegistry takes tens of seconds a scrape (or times out). */
const AGGREGATOR_MAX_WS = 100_000;
/** Run with --expose-gc (run.mjs does): every timed rep then starts on a collected heap. */
const collect = globalThis.gc ?? (() => {});
/** Store reads thrown away first: the first opens the database, the next ones let the JIT settle. */
const STORE_WARMUP = 3;
/** Per side: stop after `max` repetitions, or after `budgetMs` once `min` are done. */
const STORE_REPS = { min: 5, max: QUICK ? 9 : 21, budgetMs: 3000 };
/** The scaling phase reads only stores: cheap, so more rounds. */
const SCALING_REPS = { min: 9, max: QUICK ? 15 : 41, budgetMs: 4000 };
const AGGREGATOR_REPS = { min: QUICK ? 2 : 3, max: QUICK ? 5 : 11, budgetMs: QUICK ? 4000 : 10000 };

/**
 * AggregatorRegistry answers asked for and received (prom-client 15's IPC message type). After it timed
 * out, the late answers keep coming and are merged all the same, synchronously on the last one: the
 * benchmark waits for them before it times anything else.
 */
const answers = { asked: 0, received: 0 };
cluster.on('message', (_worker, message) => {
  if (message?.type === 'prom-client:getMetricsRes') answers.received++;
});

/** Each live worker's index in its series' fork (cluster ids keep counting across forks). */
const indexOf = new Map();

cluster.setupPrimary({ exec: fileURLToPath(new URL('./scrape-worker.mjs', import.meta.url)) });

for (const series of SERIES) await runSeries(series);

async function runSeries(series) {
  const dirs = new Map(WORKERS.map((w) => [w, mkdtempSync(join(tmpdir(), `kci-bench-scrape-w${w}-`))]));
  const stores = new Map();
  const pokes = new Map();
  try {
    const started = process.hrtime.bigint();
    const ready = await forkWorkers(WORKERS[0], (i) => ({
      BENCH_SERIES: String(series),
      BENCH_DIRS: WORKERS.filter((w) => i < w)
        .map((w) => dirs.get(w))
        .join(delimiter),
    }));
    const setupMs = msSince(started);
    for (const w of WORKERS) {
      const store = openStore({ dir: dirs.get(w), logger: countingLogger() });
      stores.set(w, store);
      pokes.set(w, poker(dirs.get(w)));
      for (let i = 0; i < STORE_WARMUP; i++)
        await check(`store W=${w}`, () => store.metrics(), w * series * COUNTER_INC);
    }

    const scaling = await measure(
      Object.fromEntries(
        WORKERS.map((w) => [
          `W=${w}`,
          { run: () => stores.get(w).metrics(), reps: SCALING_REPS, before: pokes.get(w).poke },
        ]),
      ),
    );
    const times = (w) => scaling.times[`W=${w}`];
    const [largest, smallest] = [WORKERS[0], WORKERS[WORKERS.length - 1]];
    // Rep i of every store ran within the same few milliseconds: the ratio within a round cancels the load
    // of whatever else runs on the machine, which the medians of the separate series do not.
    const rounds = Math.min(times(largest).length, times(smallest).length);
    const paired = Array.from({ length: rounds }, (_, i) => times(largest)[i] / times(smallest)[i]);
    emit({
      bench: 'scrape-scaling',
      S: series,
      storeMs: Object.fromEntries(WORKERS.map((w) => [w, round(median(times(w)))])),
      storeMinMs: Object.fromEntries(WORKERS.map((w) => [w, round(Math.min(...times(w)))])),
      ratio: round(median(paired), 2),
      ratioOf: `W=${largest} / W=${smallest}, median of per-round ratios`,
      ratioOfMins: round(Math.min(...times(largest)) / Math.min(...times(smallest)), 2),
      reps: rounds,
      setupMs: Math.round(setupMs),
      firstFlushRetries: ready.reduce((n, r) => n + r.retries, 0),
      // What the aggregator's health reports of those retries (flushes that found the write lock busy).
      flushFailures: stores.get(largest).health().flushFailures,
      workerRssMb: Math.round(median(ready.map((r) => r.rssMb))),
    });

    for (const w of WORKERS) {
      await stopWorkers((id) => id >= w);
      await runCell(w, series, stores.get(w), pokes.get(w).poke);
    }
  } finally {
    for (const store of stores.values()) store.close();
    for (const p of pokes.values()) p.close();
    await stopWorkers(() => true);
    for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true });
  }
}

async function runCell(workers, series, store, poke) {
  const expected = workers * series * COUNTER_INC;
  const skip = NO_AGGREGATOR
    ? 'BENCH_AGGREGATOR=0'
    : workers * series > AGGREGATOR_MAX_WS && !FULL
      ? `W*S > ${AGGREGATOR_MAX_WS}; BENCH_FULL=1 runs it`
      : undefined;
  const sides = { store: { run: () => store.metrics(), reps: STORE_REPS, before: poke } };
  let error;
  if (!skip) {
    sides.aggregator = { run: clusterMetrics, reps: AGGREGATOR_REPS };
    // A warm-up rep (skipped where one costs seconds) that also checks the merge is complete.
    if (workers * series <= 50_000)
      error = await check('AggregatorRegistry', sides.aggregator.run, expected).catch((err) => err.message);
    if (error) {
      delete sides.aggregator;
      await untilWorkersQuiet();
    }
  }
  const { times, errors } = await measure(sides);
  error ??= errors.aggregator;
  const measured = times.aggregator?.length > 0;
  const result = {
    bench: 'scrape',
    W: workers,
    S: series,
    storeMs: round(median(times.store)),
    storeMinMs: round(Math.min(...times.store)),
    storeReps: times.store.length,
    aggregatorMs: measured ? round(median(times.aggregator)) : null,
    aggregatorReps: times.aggregator?.length ?? 0,
    ratio: measured ? round(median(times.aggregator) / median(times.store), 1) : null,
  };
  if (skip) result.aggregatorSkipped = skip;
  if (error) result.aggregatorError = error;
  emit(result);
}

/** Run one scrape and check that it merged every worker's values: a fast but incomplete answer means nothing. */
async function check(name, run, expected) {
  const t0 = process.hrtime.bigint();
  let text;
  try {
    text = await run();
  } catch (err) {
    throw new Error(`${err.message} (after ${Math.round(msSince(t0))} ms)`);
  }
  const total = counterTotal(text);
  if (total !== expected) throw new Error(`${name} merged http_requests_total=${total}, expected ${expected}`);
}

/**
 * Alternate the sides rep by rep, so all see the same machine noise (other work on a shared machine).
 * A side that fails (AggregatorRegistry gives up after 5 s) is not asked again: its late answers are
 * still merged in the background and would only slow the other sides down.
 */
/**
 * A store scrape renders nothing when nothing changed since the last one (issue 17; measured by
 * http-scrape.mjs). These benchmarks measure the read and render of everything, so before each timed store
 * scrape one extra series, written by this process, changes (untimed): the scrape that follows reads and
 * renders every series.
 */
function poker(dir) {
  const registry = new promClient.Registry();
  const counter = new promClient.Counter({ name: 'kci_bench_poke_total', help: 'x', registers: [registry] });
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: countingLogger() });
  store.attach(registry);
  return {
    poke() {
      counter.inc();
      if (!store.flush()) throw new Error('the poke could not be written');
    },
    close: () => store.close(),
  };
}

async function measure(sides) {
  const names = Object.keys(sides);
  const times = Object.fromEntries(names.map((k) => [k, []]));
  const spent = Object.fromEntries(names.map((k) => [k, 0]));
  const errors = {};
  const done = (k) => {
    const { min, max, budgetMs } = sides[k].reps;
    return errors[k] !== undefined || times[k].length >= max || (times[k].length >= min && spent[k] >= budgetMs);
  };
  while (!names.every(done)) {
    for (const name of names) {
      if (done(name)) continue;
      // The other side's garbage (AggregatorRegistry's is large) must not be collected on this side's
      // clock, and the workers get a moment to finish answering before the next rep.
      sides[name].before?.();
      collect();
      await sleep(20);
      const t0 = process.hrtime.bigint();
      try {
        const text = await sides[name].run();
        if (typeof text !== 'string' || text.length === 0) throw new Error('empty exposition');
      } catch (err) {
        const failedAfter = Math.round(msSince(t0));
        await untilWorkersQuiet();
        errors[name] =
          `${err.message} (after ${failedAfter} ms; the last worker answer came after ${Math.round(msSince(t0))} ms)`;
        continue;
      }
      const ms = msSince(t0);
      times[name].push(ms);
      spent[name] += ms;
    }
  }
  return { times, errors };
}

/** AggregatorRegistry.clusterMetrics(), counting the answers it asks for. */
function clusterMetrics() {
  answers.asked += Object.values(cluster.workers ?? {}).filter((w) => w.isConnected()).length;
  return aggregator.clusterMetrics();
}

/** Wait (at most 3 minutes) until every answer AggregatorRegistry asked for arrived and was merged. */
async function untilWorkersQuiet() {
  const deadline = Date.now() + 180_000;
  while (answers.received < answers.asked && Date.now() < deadline) await sleep(200);
  answers.received = answers.asked;
  await sleep(500); // the workers' own garbage collection after serialising
}

/** Fork `count` workers and wait until each flushed. */
function forkWorkers(count, envOf) {
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const worker = cluster.fork(envOf(i));
      indexOf.set(worker, i);
      return new Promise((resolve, reject) => {
        const onExit = (code) =>
          reject(new Error(`scrape worker ${worker.process.pid} exited with ${code} before it was ready`));
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

/** Disconnect the workers whose index matches, and wait until they exited. */
async function stopWorkers(matches) {
  const chosen = Object.values(cluster.workers ?? {}).filter((worker) => matches(indexOf.get(worker)));
  await Promise.all(
    chosen.map(
      (worker) =>
        new Promise((resolve) => {
          worker.once('exit', resolve);
          worker.disconnect();
        }),
    ),
  );
  for (const worker of chosen) indexOf.delete(worker);
}
