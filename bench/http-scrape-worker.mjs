/**
 * One writer of the http-scrape benchmark: the S series of the workload (lib/workload.mjs) in a registry
 * attached to the store in BENCH_DIR, flushed once, then idle (its timer pushed out) until told
 * { op: 'touch', share }: it then records one request on that share of its series (a sliding window, so
 * successive rounds touch other series), flushes, and answers.
 *
 * Env: BENCH_DIR, BENCH_SERIES.
 */
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { defineMetrics, labelSets, touch } from './lib/workload.mjs';

const { openStore } = await loadStore();
const series = Number(process.env.BENCH_SERIES);
const registry = new promClient.Registry();
const metrics = defineMetrics(promClient, registry);
const sets = labelSets(series);
for (let i = 0; i < series; i++) touch(metrics, sets[i], i);
const store = openStore({ dir: process.env.BENCH_DIR, flushIntervalMs: 3_600_000, logger: countingLogger() });
store.attach(registry);
// Writers started together contend for the lock at their first flush: retry until it lands.
while (!store.flush()) await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
let cursor = 0;
process.on('message', async (m) => {
  if (m?.op !== 'touch') return;
  const n = Math.round(series * m.share);
  for (let k = 0; k < n; k++) {
    const i = (cursor + k) % series;
    touch(metrics, sets[i], i);
  }
  cursor = (cursor + n) % series;
  while (!store.flush()) await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
  process.send({ op: 'touched', n });
});
process.send({ op: 'ready', rssMb: process.memoryUsage().rss / 2 ** 20 });
process.on('disconnect', () => process.exit(0));
