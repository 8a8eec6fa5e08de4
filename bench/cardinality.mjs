/**
 * cardinality: a flood of label values in one counter (issue 16 §2), with the store's series bound
 * (maxSeries 2000, the default) and without it (maxSeries far above the flood), side by side in one run.
 * One writer records BENCH_FLOOD (default 100000) distinct `user` values of `flood_total`, then:
 *   first flush  - CPU of the flush that meets the flood (process.cpuUsage: SQLite runs on this thread)
 *   steady flush - CPU of a flush after a tenth of the flooded label sets were incremented again (median)
 *   store size   - database plus WAL after those flushes (health().sizeBytes)
 *   scrape       - wall time of `await store.metrics()` by a separate reader (median), and the series served
 * Every side checks that the served total equals what was recorded before it reports anything.
 * Prints JSON lines (stdout) and a table (stderr). Not a test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, median, QUICK, round } from './lib/stats.mjs';

const { openStore } = await loadStore();
const FLOOD = Number(process.env.BENCH_FLOOD ?? 100_000);
const STEADY_REPS = QUICK ? 3 : 9;
const SCRAPE_REPS = QUICK ? 5 : 15;

const cpuMs = (fn) => {
  const t = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};

async function side(name, maxSeries) {
  const dir = mkdtempSync(join(tmpdir(), 'kci-bench-cardinality-'));
  try {
    const registry = new promClient.Registry();
    const counter = new promClient.Counter({
      name: 'flood_total',
      help: 'One counter with an unbounded label.',
      labelNames: ['user'],
      registers: [registry],
      maxSeries,
    });
    const users = Array.from({ length: FLOOD }, (_, i) => `user-${i}`);
    let recorded = 0;
    for (const user of users) {
      counter.inc({ user });
      recorded++;
    }
    const log = countingLogger();
    const writer = openStore({ dir, flushIntervalMs: 3_600_000, logger: log });
    writer.attach(registry);
    const first = cpuMs(() => writer.flush());
    const steady = [];
    let cursor = 0;
    for (let r = 0; r < STEADY_REPS; r++) {
      for (let k = 0; k < FLOOD / 10; k++) counter.inc({ user: users[(cursor + k) % FLOOD] });
      recorded += FLOOD / 10;
      cursor = (cursor + FLOOD / 10) % FLOOD;
      steady.push(cpuMs(() => writer.flush()));
    }
    const reader = openStore({ dir, logger: countingLogger() });
    const text = await reader.metrics();
    const samples = text.split('\n').filter((l) => l.startsWith('flood_total'));
    const total = samples.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    if (total !== recorded) throw new Error(`${name}: served total ${total} != recorded ${recorded} (${log.last})`);
    const scrapes = [];
    for (let r = 0; r < SCRAPE_REPS; r++) {
      const t = process.hrtime.bigint();
      await reader.metrics();
      scrapes.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const health = reader.health();
    const record = {
      bench: 'cardinality',
      side: name,
      flood: FLOOD,
      series: samples.length,
      folded: health.seriesOverflows.find((o) => o.metric === 'flood_total')?.series ?? 0,
      total,
      store_bytes: health.sizeBytes,
      exposition_bytes: Buffer.byteLength(text),
      first_flush_cpu_ms: round(first, 1),
      steady_flush_cpu_ms: round(median(steady), 2),
      scrape_ms: round(median(scrapes), 2),
      worker_heap_mb: round(process.memoryUsage().heapUsed / 2 ** 20, 1),
    };
    reader.close();
    writer.close();
    emit(record);
    return record;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// maxSeries explicit on both sides: loadStore() lifts the default for the other benchmarks.
const bounded = await side('bound 2000 (default)', 2000);
const unbounded = await side('no bound', 10_000_000);
const rows = [
  ['series served', 'series'],
  ['label sets folded', 'folded'],
  ['store size (bytes)', 'store_bytes'],
  ['exposition (bytes)', 'exposition_bytes'],
  ['first flush CPU (ms)', 'first_flush_cpu_ms'],
  [`flush CPU, ${FLOOD / 10} flooded series changed (ms)`, 'steady_flush_cpu_ms'],
  ['scrape (ms, median)', 'scrape_ms'],
];
process.stderr.write(`\ncardinality: ${FLOOD} label values in one counter, totals checked on both sides\n`);
process.stderr.write(`${'what'.padEnd(48)}${'bound 2000'.padStart(14)}${'no bound'.padStart(14)}\n`);
for (const [label, key] of rows) {
  process.stderr.write(
    `${label.padEnd(48)}${String(bounded[key]).padStart(14)}${String(unbounded[key]).padStart(14)}\n`,
  );
}
