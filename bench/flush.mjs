/**
 * flush: CPU a worker spends flushing, at S=1000 and S=10000, for the default interval (1000 ms).
 * Each repetition first changes some series (untimed), then times one store.flush() with
 * process.cpuUsage() (SQLite runs on the calling thread, so this is the whole cost). The share of one core
 * is the mean CPU ms per flush / interval ms: a mean, not a median, so the flushes that also checkpoint
 * the WAL or fold dead writers (every 30th) are paid for in the figure. The median is printed beside it.
 * As deployed, an aggregator runs beside the worker and folds the store's delta log once per interval, at
 * its own cost (http-scrape.mjs measures it): here that fold runs between two timed flushes, untimed,
 * through the build's own fold (dist/delta-log.js; a build without a log has nothing to fold).
 * BENCH_FLUSH_AGGREGATOR=0 measures a worker alone, whose log fills up and who then writes the rows itself.
 * Scenarios per interval:
 *   all  - every series changed (worst case: every label set sees traffic every second)
 *   10%  - a tenth of the series changed (typical)
 *   none - nothing changed (an idle worker still flushes: heartbeat and change detection)
 * The first flush of a process (it creates every series row) is reported apart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countingLogger, loadStore, promClient, storeIndex } from './lib/deps.mjs';
import { emit, listFromEnv, median, QUICK, round } from './lib/stats.mjs';
import { defineMetrics, labelSets, NUMBERS_PER_LABEL_SET, touch } from './lib/workload.mjs';

// BENCH_BASE_STORE=<path to another build's dist/index.js>: every case runs against that build too, each
// case and build in a fresh process of its own, the two builds in turn (two builds in one process share
// prom-client's JIT state, which made whichever ran first measure slower).
const CHILD = process.env.BENCH_FLUSH_CHILD; // "<build>:<S>:<scenario>", set for those processes
const build = CHILD?.split(':')[0] ?? 'current';
const { openStore } = await loadStore(build === 'base' ? process.env.BENCH_BASE_STORE : undefined);
/** The dist/index.js of the build measured. */
const storeEntry = (b) => (b === 'base' ? process.env.BENCH_BASE_STORE : storeIndex());
const INTERVAL_MS = 1000; // the documented default (PROMETHEUS_METRICS_FLUSH_INTERVAL_MS unset)
const AGGREGATOR = process.env.BENCH_FLUSH_AGGREGATOR !== '0';
const SCENARIOS = [
  { name: 'all', share: 1 },
  { name: '10%', share: 0.1 },
  { name: 'none', share: 0 },
];
// S=100000 with 10% changed too (issue 17's target at the physical limit, with the store file's size).
const CASES = (listFromEnv('BENCH_FLUSH_SERIES') ?? [1000, 10000]).flatMap((S) => SCENARIOS.map((c) => [S, c]));
if (!process.env.BENCH_FLUSH_SERIES && !QUICK) CASES.push([100000, SCENARIOS[1]]);

// The store reads the clock for its heartbeat (every 10 intervals) and its rolling look at every series (all
// of them within 60 s): each timed flush advances a virtual clock by one interval, so those come at their real rate and
// their cost is in the mean, as it would be over the same number of seconds of a worker's life.
const realNow = Date.now;
let virtualNow = realNow();
Date.now = () => virtualNow;

if (CHILD) {
  const [, S, name] = CHILD.split(':');
  await runCase(
    Number(S),
    SCENARIOS.find((c) => c.name === name),
    build,
  );
} else {
  for (const [series, scenario] of CASES) {
    if (!process.env.BENCH_BASE_STORE) await runCase(series, scenario, 'current');
    else for (const b of ['current', 'base']) inChild(`${b}:${series}:${scenario.name}`);
  }
}
Date.now = realNow;

async function runCase(series, scenario, build) {
  const dir = mkdtempSync(join(tmpdir(), 'kci-bench-flush-'));
  try {
    await runScenario(dir, series, scenario, build);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The aggregator's fold of the delta log, with the build's own code on a connection of its own; undefined
 * for a build without a log (`entry`: the build's dist/index.js).
 */
async function aggregatorFold(dir, entry) {
  const at = (file) => pathToFileURL(join(dirname(entry), file)).href;
  if (!existsSync(join(dirname(entry), 'delta-log.js'))) return undefined;
  const [{ openDatabase }, { prepareStatements }, { StampingStatements }, { foldDeltas }] = await Promise.all([
    import(at('schema.js')),
    import(at('statements.js')),
    import(at('stamps.js')),
    import(at('delta-log.js')),
  ]);
  const db = openDatabase(join(dir, 'kci-metrics.sqlite'), 1000);
  const stamping = new StampingStatements(prepareStatements(db));
  const fold = db.transaction(() => {
    foldDeltas(stamping.statements);
    stamping.write();
  });
  return { fold: () => fold.immediate(), close: () => db.close() };
}

/** Run one case in a fresh process; its JSON line comes out on our stdout. */
function inChild(spec) {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_FLUSH_CHILD: spec },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`flush case ${spec} failed (exit ${r.status ?? r.signal})`);
}

async function runScenario(dir, series, scenario, build) {
  // 330 intervals: five rounds of the store's rolling look at every series (each within 60 s), and, for a
  // worker alone, past the point where its delta log is full (LOG_BOUND; at S=10000 with 10% changed after
  // 100 flushes) and it writes the rows itself.
  const reps = QUICK ? 30 : 330;
  const registry = new promClient.Registry();
  const metrics = defineMetrics(promClient, registry);
  const sets = labelSets(series);
  for (let i = 0; i < series; i++) touch(metrics, sets[i], i);
  const logger = countingLogger();
  const store = openStore({ dir, flushIntervalMs: INTERVAL_MS, logger });
  store.attach(registry);
  const first = timedFlush(store);
  const aggregator = AGGREGATOR ? await aggregatorFold(dir, storeEntry(build)) : undefined;
  // Everything below is synchronous: the store's own timer cannot fire in between and disturb a reading.
  let cursor = 0;
  const changed = Math.round(series * scenario.share);
  const cpu = [];
  const wall = [];
  for (let r = -2; r < reps; r++) {
    // A sliding window of changed series, so consecutive flushes touch different rows.
    for (let k = 0; k < changed; k++) {
      const i = (cursor + k) % series;
      touch(metrics, sets[i], i);
    }
    cursor = (cursor + changed) % series;
    const t = timedFlush(store);
    if (r >= 0) {
      cpu.push(t.cpuMs);
      wall.push(t.wallMs);
    }
    aggregator?.fold(); // untimed: the aggregator's work, done within the interval
  }
  const cpuMs = cpu.reduce((a, b) => a + b, 0) / cpu.length;
  // The store on disk after the run: the database file, and its write-ahead log apart (checkpoints move it
  // into the file and it shrinks back to 1 MB). Raw: the numbers it holds, 8 bytes each.
  const file = sizeOf(join(dir, 'kci-metrics.sqlite'));
  const rawBytes = series * NUMBERS_PER_LABEL_SET * 8;
  emit({
    bench: 'flush',
    build,
    S: series,
    changed: scenario.name,
    changedSeries: changed,
    aggregator: AGGREGATOR,
    cpuMsPerFlush: round(cpuMs, 3),
    cpuMsMedian: round(median(cpu), 3),
    cpuMsMax: round(Math.max(...cpu)),
    wallMsPerFlush: round(median(wall), 3),
    intervalMs: INTERVAL_MS,
    pctOfCore: round((cpuMs / INTERVAL_MS) * 100, 3),
    reps,
    firstFlushCpuMs: round(first.cpuMs),
    fileMB: round(file / 1e6, 2),
    walMB: round(sizeOf(join(dir, 'kci-metrics.sqlite-wal')) / 1e6, 2),
    rawMB: round(rawBytes / 1e6, 2),
    fileVsRaw: round(file / rawBytes, 2),
  });
  store.close();
  aggregator?.close();
  if (logger.warnings > 0) throw new Error(`the store reported trouble during the flush benchmark: ${logger.last}`);
}

function sizeOf(path) {
  return existsSync(path) ? statSync(path).size : 0;
}

function timedFlush(store) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  virtualNow += INTERVAL_MS;
  // As the store's interval timer flushes: only when something changed or the heartbeat is due.
  const ok = store.flush({ ifChanged: true });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  if (!ok) throw new Error('store.flush() failed during the flush benchmark');
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}
