// One short-lived writer of the churn test and benchmark, as light as a writer can be: no IPC channel, one
// process start, one synchronous flush. It records into a counter, a histogram and gauges, flushes, writes
// "flushed" on stdout, records one more increment (written only by a clean exit's flush), then either
// exits or waits for the SIGKILL its parent sends after reading the line.
//
// argv[2]: the store directory; argv[3]: "exit" or "wait"; argv[4]: its index (gauge values).
// Exit code 3: the flush failed 100 times in a row (logged on stderr).
import { writeSync } from 'node:fs';
import client from 'prom-client';
import { openStore } from '../../dist/index.js';

const [dir, after, index] = process.argv.slice(2);
const i = Number(index);
const registry = new client.Registry();
const jobs = new client.Counter({
  name: 'churn_jobs_total',
  help: 'Jobs',
  labelNames: ['kind'],
  registers: [registry],
});
const seconds = new client.Histogram({
  name: 'churn_job_seconds',
  help: 'Time',
  buckets: [1, 2],
  registers: [registry],
});
const gauge = (name, mode) => new client.Gauge({ name, help: mode, multiprocessMode: mode, registers: [registry] });
// Modes that outlive the process once folded (sum, max) and one that does not (livesum).
const workers = gauge('churn_workers', 'sum');
const highest = gauge('churn_highest', 'max');
const live = gauge('churn_live', 'livesum');

const store = openStore({
  dir,
  flushIntervalMs: 3_600_000,
  logger: { warn: (m) => process.stderr.write(`WARN ${m}\n`) },
});
store.attach(registry);
jobs.inc({ kind: 'k' });
seconds.observe(1.5);
workers.set(1);
highest.set(i);
live.set(1);

// Dozens of writers start together and contend for the write lock; a periodic flush gives up after 50 ms
// and is retried, as the flush timer would retry it, after a pause that grows with each attempt (on a
// loaded machine 16 writers can hold the lock in turn for longer than 50 immediate retries last).
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let attempt = 1; !store.flush(); attempt++) {
  if (attempt === 100) process.exit(3);
  Atomics.wait(pause, 0, 0, Math.min(5 * attempt, 100));
}
jobs.inc({ kind: 'k' });
writeSync(1, 'flushed\n');
if (after === 'exit') process.exit(0);
// Until the parent's SIGKILL, with the event loop blocked: the store's first timer flush comes at a random
// point of its interval, and one that fired now would write the increment the kill is meant to lose.
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
