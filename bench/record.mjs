/**
 * record: nanoseconds per recorded request (labelled counter inc + histogram observe) on a registry with
 * the store attached and flushing on its default interval in the background, vs a registry with
 * prom-client alone, in the same process. Rounds alternate A B B A so both sides share machine noise and
 * JIT state; the event loop runs between rounds, so the store's interval flush happens during the run
 * (its cost is charged to the flush benchmark; here we see what attaching does to the record path).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, envInt, median, QUICK, round, yieldToLoop } from './lib/stats.mjs';
import { COUNTER_INC, counterTotal, defineMetrics, labelSets, touch } from './lib/workload.mjs';

const { openStore } = await loadStore();
const SERIES = 1000;
const OPS_PER_ROUND = 20_000;
const DURATION_MS = envInt('BENCH_RECORD_MS', QUICK ? 3000 : 8000);

const dir = mkdtempSync(join(tmpdir(), 'kci-bench-record-'));
try {
  const sets = labelSets(SERIES);
  const attached = new promClient.Registry();
  const withStore = defineMetrics(promClient, attached);
  const alone = defineMetrics(promClient, new promClient.Registry());
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

  // Warm-up: JIT both paths and create every series on both sides.
  for (let r = 0; r < 10; r++) {
    timedRound(withStore);
    timedRound(alone);
  }
  const ns = { store: [], alone: [] };
  const started = Date.now();
  let ops = 0;
  while (Date.now() - started < DURATION_MS) {
    ns.store.push(timedRound(withStore));
    ns.alone.push(timedRound(alone));
    await yieldToLoop();
    ns.alone.push(timedRound(alone));
    ns.store.push(timedRound(withStore));
    await yieldToLoop();
    cursor = (cursor + 7) % SERIES;
    ops += 2 * OPS_PER_ROUND;
  }

  // The background flush must have run during the measurement, else this measured nothing of interest.
  const reader = openStore({ dir, logger: countingLogger() });
  const flushedTotal = counterTotal(await reader.metrics());
  reader.close();
  store.close();
  if (flushedTotal <= 0 || flushedTotal % COUNTER_INC !== 0) throw new Error(`store holds http_requests_total=${flushedTotal}: the background flush did not run`);

  const storeNs = median(ns.store);
  const aloneNs = median(ns.alone);
  emit({
    bench: 'record',
    S: SERIES,
    storeNsPerOp: round(storeNs, 1),
    promClientNsPerOp: round(aloneNs, 1),
    ratio: round(storeNs / aloneNs),
    rounds: ns.store.length,
    opsPerRound: OPS_PER_ROUND,
    opsPerSide: ops,
    flushedIncrements: flushedTotal / COUNTER_INC,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
