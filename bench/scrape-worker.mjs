/**
 * One cluster worker of the scrape benchmark: holds the S series of the workload in a prom-client registry
 * that is both attached to the SQLite store and answered to AggregatorRegistry's IPC requests, so the two
 * designs are measured on the very same processes and values. Stays alive (idle) until disconnected.
 *
 * Env: BENCH_DIR (store directory), BENCH_SERIES (S).
 */
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { defineMetrics, labelSets, touch } from './lib/workload.mjs';

const { openStore } = await loadStore();
const { AggregatorRegistry, Registry } = promClient;

const series = Number(process.env.BENCH_SERIES);
const registry = new Registry();
AggregatorRegistry.setRegistries(registry);
// prom-client 15 installs the worker's IPC responder when an AggregatorRegistry is constructed.
new AggregatorRegistry();

const metrics = defineMetrics(promClient, registry);
const sets = labelSets(series);
for (let i = 0; i < series; i++) touch(metrics, sets[i], i);

// The periodic flush is pushed out of the way (idle workers, as AggregatorRegistry's are): the scrape
// benchmark measures reading; flushing has its own benchmark.
const logger = countingLogger();
const store = openStore({ dir: process.env.BENCH_DIR, flushIntervalMs: 3_600_000, logger });
store.attach(registry);
let retries = 0;
const started = process.hrtime.bigint();
// 32 workers writing their first flush at once contend for the write lock (a flush waits 50 ms, then
// gives up until the next interval); retry until it lands, and report how often that happened.
while (!store.flush()) {
  retries++;
  await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
}
const firstFlushMs = Number(process.hrtime.bigint() - started) / 1e6;
process.send({ type: 'bench:ready', retries, firstFlushMs, rssMb: process.memoryUsage().rss / 2 ** 20 });
process.on('disconnect', () => process.exit(0));
