/**
 * The aggregator of the flush benchmark: a store of the same build that scraped once, so that it folds the
 * delta log at its flush interval (10 ms here: a flush of the benchmark comes every few ms, not every
 * second), as the aggregator of a deployment does. Its CPU is its own, not the worker's: http-scrape.mjs
 * measures the aggregator. Env: BENCH_DIR, BENCH_READER_STORE (a dist/index.js; default this build's).
 */
import { loadStore } from './lib/deps.mjs';

const { openStore } = await loadStore(process.env.BENCH_READER_STORE || undefined);
const store = openStore({ dir: process.env.BENCH_DIR, flushIntervalMs: 10, logger: { warn() {} } });
await store.metrics();
process.send({ op: 'ready' });
process.on('message', () => {
  store.close();
  process.exit(0);
});
