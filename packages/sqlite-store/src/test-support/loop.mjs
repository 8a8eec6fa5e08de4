// A worker under load that gets SIGKILLed at a random moment: it records, flushes explicitly every
// `flushEvery` increments and appends "pre N" before and "post N" after each successful flush to
// `progress` (synchronously, so the file is exact whenever the kill lands). What the store holds for
// this process is then N of the last "post", or of the last "pre" when the kill fell between the
// commit and the "post" line: the test checks exactly that bound.
//
// argv[2]: JSON { dir, slot, progress, flushEvery }
import { appendFileSync } from 'node:fs';
import client from 'prom-client';
import { openStore } from '../../dist/index.js';

const { dir, slot, progress, flushEvery } = JSON.parse(process.argv[2]);
const registry = new client.Registry();
const requests = new client.Counter({
  name: 'loop_requests_total',
  help: 'Requests',
  labelNames: ['slot'],
  registers: [registry],
});
const duration = new client.Histogram({
  name: 'loop_duration_seconds',
  help: 'Duration',
  buckets: [1],
  registers: [registry],
});
// No timer flushes: only the explicit ones below, whose outcome the progress file records.
const store = openStore({
  dir,
  flushIntervalMs: 3_600_000,
  logger: { warn: (m) => process.stderr.write(`WARN ${m}\n`) },
});
store.attach(registry);

// Runs until killed; should the test runner go away first, do not run on forever.
process.on('disconnect', () => process.exit(0));

let n = 0;
let announced = false;
for (;;) {
  for (let i = 0; i < flushEvery; i++) {
    requests.inc({ slot });
    duration.observe(0.5);
    n++;
  }
  appendFileSync(progress, `pre ${n}\n`);
  if (store.flush()) {
    appendFileSync(progress, `post ${n}\n`);
    if (!announced) {
      announced = true;
      process.send({ ready: true, pid: process.pid, results: [] });
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
