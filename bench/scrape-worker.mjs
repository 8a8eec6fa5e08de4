/**
 * One cluster worker of the scrape benchmark: holds the S series of the workload in a prom-client registry
 * that is answered to AggregatorRegistry's IPC requests and attached to one or more SQLite stores (the
 * first 2 workers write the W=2 store, the first 8 the W=8 store, all of them the W=32 store), so both
 * designs and every W are measured on the very same processes and values. Idle until disconnected.
 *
 * Env: BENCH_DIRS (store directories, separated by the platform's path delimiter), BENCH_SERIES (S).
 */
import { delimiter } from 'node:path';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { defineMetrics, labelSets, touch } from './lib/workload.mjs';

const { openStore } = await loadStore();
const { AggregatorRegistry, Registry } = promClient;

const series = Number(process.env.BENCH_SERIES);
const dirs = (process.env.BENCH_DIRS ?? '').split(delimiter).filter(Boolean);
const registry = new Registry();
AggregatorRegistry.setRegistries(registry);
// prom-client 15 installs the worker's IPC responder when an AggregatorRegistry is constructed.
new AggregatorRegistry();

const metrics = defineMetrics(promClient, registry);
const sets = labelSets(series);
for (let i = 0; i < series; i++) touch(metrics, sets[i], i);

let retries = 0;
const started = process.hrtime.bigint();
for (const dir of dirs) {
  // The periodic flush is pushed out of the way (idle workers, as AggregatorRegistry's are): this
  // benchmark measures reading; flushing has its own benchmark.
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: countingLogger() });
  store.attach(registry);
  // 32 workers writing their first flush at once contend for the write lock (a flush waits 50 ms, then
  // gives up until the next interval); retry until it lands, and report how often that happened.
  while (!store.flush()) {
    retries++;
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
  }
}
const firstFlushMs = Number(process.hrtime.bigint() - started) / 1e6;
// The primary gives up on every worker when one fails to start; then there is nobody left to tell.
if (!process.connected) process.exit(0);
process.send({ type: 'bench:ready', retries, firstFlushMs, rssMb: process.memoryUsage().rss / 2 ** 20 });
process.on('disconnect', () => process.exit(0));
