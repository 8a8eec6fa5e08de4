// A busy worker: records `n` requests into the same series as every other instance, while the store
// flushes on its own short timer, then ends naturally (the store's exit hook writes the rest).
//
// argv[2]: JSON { dir, n, flushIntervalMs, spread }
// spread (optional): also record request i under route `/s<i % spread>`, so each flush writes hundreds of
// series per metric (several batched statements).
// Observed values are exact binary fractions, so sums over processes do not depend on the order of
// additions; the test knows the exact totals: see LOAD_VALUES in concurrency.test.ts.
import client from 'prom-client';
import { openStore } from '../../dist/index.js';

const { dir, n, flushIntervalMs, spread = 0 } = JSON.parse(process.argv[2]);
const registry = new client.Registry();
const requests = new client.Counter({
  name: 'load_requests_total',
  help: 'Requests',
  labelNames: ['route'],
  registers: [registry],
});
const duration = new client.Histogram({
  name: 'load_duration_seconds',
  help: 'Duration',
  labelNames: ['route'],
  buckets: [0.1, 0.25, 1, 5],
  registers: [registry],
});
const values = [0.0625, 0.125, 0.5, 1, 2, 8];
const store = openStore({ dir, flushIntervalMs, logger: { warn: (m) => process.stderr.write(`WARN ${m}\n`) } });
store.attach(registry);

for (let i = 0; i < n; i++) {
  requests.inc({ route: '/a' });
  requests.inc({ route: '/b' }, 2);
  duration.observe({ route: '/a' }, values[i % values.length]);
  if (spread > 0) {
    const route = `/s${i % spread}`;
    requests.inc({ route });
    duration.observe({ route }, values[i % values.length]);
  }
  // Yield now and then, so that the flush timer fires in the middle of the work.
  if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 1));
}
