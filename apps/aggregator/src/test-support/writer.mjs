// A worker process for the aggregator's tests: records one metric into the real store, flushes, prints
// "ready", then exits (default) or stays alive until it is sent SIGTERM ({"stay": true}).
// Usage: node writer.mjs <store dir> '{"type":"counter"|"gauge","name":"worker_jobs_total","value":2,"stay":false}'
import { openStore } from '@kci-metrics/sqlite-store';
import { Counter, Gauge, Registry } from 'prom-client';

const [dir, json = '{}'] = process.argv.slice(2);
const spec = JSON.parse(json);
const registry = new Registry();
const name = spec.name ?? 'worker_jobs_total';
if (spec.type === 'gauge') {
  new Gauge({ name, help: 'A gauge under the same name.', registers: [registry] }).set(spec.value ?? 1);
} else {
  new Counter({ name, help: 'Jobs done.', registers: [registry] }).inc(spec.value ?? 1);
}
const store = openStore({ dir, flushIntervalMs: 60_000 });
store.attach(registry);
if (!store.flush()) {
  console.error('flush failed');
  process.exit(3);
}
process.stdout.write('ready\n');
if (spec.stay) setInterval(() => {}, 60_000);
