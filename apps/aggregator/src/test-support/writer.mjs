// A worker process for the aggregator's tests: records one metric into the real store, flushes, prints
// "ready", then exits (default) or stays alive until it is sent SIGTERM ("stay": true). With "tickMs" it keeps
// incrementing its counter and lets the store flush it every "flushIntervalMs", like a busy worker.
// Usage: node writer.mjs <store dir> '{"type":"counter"|"gauge","name":"worker_jobs_total","value":2,"stay":false}'
import { openStore } from '@kci-metrics/sqlite-store';
import { Counter, Gauge, Registry } from 'prom-client';

const [dir, json = '{}'] = process.argv.slice(2);
const spec = JSON.parse(json);
const registry = new Registry();
const name = spec.name ?? 'worker_jobs_total';
let counter;
if (spec.type === 'gauge') {
  new Gauge({ name, help: 'A gauge under the same name.', registers: [registry] }).set(spec.value ?? 1);
} else {
  counter = new Counter({ name, help: 'Jobs done.', registers: [registry] });
  counter.inc(spec.value ?? 1);
}
const store = openStore({ dir, flushIntervalMs: spec.flushIntervalMs ?? 60_000 });
store.attach(registry);
// A flush that meets another writer's lock returns false and keeps the values for the next one, as a
// worker's next interval would; many writers started at once on a busy machine can meet it several times.
let flushed = store.flush();
for (let attempt = 1; !flushed && attempt < 50; attempt++) {
  await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
  flushed = store.flush();
}
if (!flushed) {
  console.error('flush failed 50 times in a row');
  process.exit(3);
}
process.stdout.write('ready\n');
if (spec.tickMs) setInterval(() => counter?.inc(), spec.tickMs);
else if (spec.stay) setInterval(() => {}, 60_000);
