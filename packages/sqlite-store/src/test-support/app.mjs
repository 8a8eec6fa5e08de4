// An application process that records into the store (the built package) and keeps serving whatever the
// store does: it flushes twice, prints each result as "flush <true|false>", then "still running" and exits 0.
// The store's log goes to stderr with the default logger ("[kci-metrics] ...").
// Usage: node app.mjs <store dir>
import { Counter, Registry } from 'prom-client';
import { openStore } from '../../dist/index.js';

const registry = new Registry();
new Counter({ name: 'app_jobs_total', help: 'Jobs done.', registers: [registry] }).inc(2);
const store = openStore({ dir: process.argv[2], flushIntervalMs: 3_600_000 });
store.attach(registry);
process.stdout.write(`flush ${store.flush()}\n`);
process.stdout.write(`flush ${store.flush()}\n`);
process.stdout.write('still running\n');
