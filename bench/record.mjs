/**
 * record: nanoseconds per recorded request (labelled counter inc + histogram observe) on a registry with
 * the store attached and flushing on its default interval in the background, vs a registry with
 * prom-client alone, in the same process. Rounds rotate through every order of the sides so they share
 * machine noise and JIT state; a second prom-client-only registry (`control`) shows the noise floor.
 * The event loop runs between rounds, so the store's interval flush happens during the run (its own cost
 * is the flush benchmark's; here we see what attaching does to the record path).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, envInt, median, QUICK, round, yieldToLoop } from './lib/stats.mjs';
import { COUNTER_INC, counterTotal, defineMetrics, labelSets, touch } from './lib/workload.mjs';

const { openStore } = await loadStore();
const SERIES = 1000;
const OPS_PER_ROUND = 2_000;
const DURATION_MS = envInt('BENCH_RECORD_MS', QUICK ? 3000 : 10000);
/** Every order of the three sides in turn, so no side always runs first, last or after a flush. */
const ORDERS = [
  ['store', 'alone', 'control'],
  ['alone', 'control', 'store'],
  ['control', 'store', 'alone'],
  ['store', 'control', 'alone'],
  ['control', 'alone', 'store'],
  ['alone', 'store', 'control'],
];

const dir = mkdtempSync(join(tmpdir(), 'kci-bench-record-'));
try {
  const sets = labelSets(SERIES);
  const attached = new promClient.Registry();
  const withStore = defineMetrics(promClient, attached);
  const alone = defineMetrics(promClient, new promClient.Registry());
  // A second prom-client-only registry: its ratio to `alone` is the noise floor of this measurement.
  const control = defineMetrics(promClient, new promClient.Registry());
  const store = openStore({ dir, logger: countingLogger() }); // default flush interval
  store.attach(attached);

  let cursor = 0;
  const timedRound = (metrics) => {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < OPS_PER_ROUND; k++) {
      const i = (cursor + k) % SERIES;
      touch(metrics, sets[i], i);
    }
    return Number(process.hrtime.bigint() - t0) / OPS_PER_ROUND;
  };

  // Warm-up: JIT every path and create every series on every side.
  for (let r = 0; r < 100; r++) for (const m of [withStore, alone, control]) timedRound(m);
  const ns = { store: [], alone: [], control: [] };
  const sides = { store: withStore, alone, control };
  const started = Date.now();
  let ops = 0;
  for (let iteration = 0; Date.now() - started < DURATION_MS; iteration++) {
    for (const name of ORDERS[iteration % ORDERS.length]) {
      ns[name].push(timedRound(sides[name]));
      await yieldToLoop();
    }
    cursor = (cursor + 7) % SERIES;
    ops += OPS_PER_ROUND;
  }

  // The background flush must have run during the measurement, else this measured nothing of interest.
  const reader = openStore({ dir, logger: countingLogger() });
  const flushedTotal = counterTotal(await reader.metrics());
  reader.close();
  store.close();
  if (flushedTotal <= 0 || flushedTotal % COUNTER_INC !== 0)
    throw new Error(`store holds http_requests_total=${flushedTotal}: the background flush did not run`);

  const storeNs = median(ns.store);
  const aloneNs = median(ns.alone);
  emit({
    bench: 'record',
    S: SERIES,
    storeNsPerOp: round(storeNs, 1),
    promClientNsPerOp: round(aloneNs, 1),
    ratio: round(storeNs / aloneNs),
    controlRatio: round(median(ns.control) / aloneNs),
    rounds: ns.store.length,
    opsPerRound: OPS_PER_ROUND,
    opsPerSide: ops,
    flushedIncrements: flushedTotal / COUNTER_INC,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
