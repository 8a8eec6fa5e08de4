// A worker process as the tests drive it: a prom-client registry attached to the store (the built
// package, as an application uses it), and metric operations sent over the IPC channel.
//
// argv[2]: JSON { dir, flushIntervalMs?, defaultMetrics?, script?: ops[], afterReady?: 'end' | 'exit' }
// Every message { id, op, ... } gets { id, result } or { id, error } (async results awaited).
// `script` ops run before the `ready` message (one round trip for short-lived writers); `afterReady: 'end'`
// ends the process naturally after ready (the store's exit hook flushes), `afterReady: 'exit'` calls
// process.exit().
// Log lines of the store go to stderr as "WARN ..." / "INFO ...".
import client from 'prom-client';
import { openStore } from '../../dist/index.js';

const config = JSON.parse(process.argv[2]);
const registry = new client.Registry();
if (config.defaultMetrics) client.collectDefaultMetrics({ register: registry });
const logger = {
  warn: (m) => process.stderr.write(`WARN ${m}\n`),
  info: (m) => process.stderr.write(`INFO ${m}\n`),
};
const store = openStore({ dir: config.dir, flushIntervalMs: config.flushIntervalMs ?? 3_600_000, logger });
store.attach(registry);

const kinds = { counter: client.Counter, gauge: client.Gauge, histogram: client.Histogram, summary: client.Summary };
const metric = (name) => {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  return m;
};

const ops = {
  define: ({ kind, config: cfg }) => void new kinds[kind]({ ...cfg, registers: [registry] }),
  inc: ({ name, labels = {}, value = 1 }) => void metric(name).inc(labels, value),
  dec: ({ name, labels = {}, value = 1 }) => void metric(name).dec(labels, value),
  set: ({ name, labels = {}, value }) => void metric(name).set(labels, Number(value)), // 'NaN' survives JSON
  observe: ({ name, labels = {}, value }) => void metric(name).observe(labels, value),
  remove: ({ name, labels }) => void metric(name).remove(labels),
  // `count` distinct values of label `label` (`${prefix}${i}`), each recorded once with `value` (a label flood).
  flood: ({ name, record, label, prefix = '', count, value = 1, labels = {} }) => {
    const m = metric(name);
    for (let i = 0; i < count; i++) m[record]({ ...labels, [label]: `${prefix}${i}` }, value);
  },
  flush: () => store.flush(),
  // What prom-client holds right now, without running collect() (which would change the values):
  // the tests compare it with what the store merged from this process's last flush.
  peek: ({ name }) => Object.values(metric(name).hashMap).map((e) => ({ labels: e.labels, value: e.value })),
  // An application's own signal handler that shuts down with process.exit().
  handle: ({ signal, code = 0 }) => void process.on(signal, () => process.exit(code)),
  // A crash: an exception nobody catches.
  crash: () =>
    void setImmediate(() => {
      throw new Error('boom');
    }),
  exit: ({ code = 0 }) => {
    process.stderr.write('EXITING\n'); // the exit hook's final flush runs next
    process.exit(code);
  },
  scrape: ({ format }) => store.metrics({ format }),
  health: () => store.health(),
  end: () => process.disconnect(),
};

const run = (msg) => {
  const fn = ops[msg.op];
  if (!fn) throw new Error(`unknown op ${msg.op}`);
  return fn(msg);
};

process.on('message', async (msg) => {
  let reply;
  try {
    reply = { id: msg.id, result: await run(msg) };
  } catch (err) {
    reply = { id: msg.id, error: String(err?.stack ?? err) };
  }
  if (process.connected) process.send(reply);
});

const results = (config.script ?? []).map(run);
process.send({ ready: true, pid: process.pid, results }, () => {
  if (config.afterReady === 'end') process.disconnect();
  else if (config.afterReady === 'exit') process.exit(0);
});
