// A writer process for the conformance suite: prom-client registries attached to the store (the built
// package, as an application uses it), driven over IPC by test-support/children.ts's startFixture().
//
// Messages { id, op, ... } get { id, result } or { id, error }. Numbers that JSON cannot carry travel
// tagged: { $n: 'NaN' | 'Infinity' | '-Infinity' } anywhere in `args`.
//
// `program` runs one whole generated program (differential.test.ts) against a fresh store and registry,
// and returns prom-client's own rendering of a reference registry that received the same operations.
import client from 'prom-client';
import { openStore } from '../../../dist/index.js';

const logger = {
  warn: (m) => process.stderr.write(`WARN ${m}\n`),
  info: (m) => process.stderr.write(`INFO ${m}\n`),
};
const kinds = { counter: client.Counter, gauge: client.Gauge, histogram: client.Histogram, summary: client.Summary };

const decode = (v) => {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    if ('$n' in v) return Number(v.$n);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  return v;
};

let store;
const registries = [];

const metricOf = (registry, name) => {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  return m;
};

/** One operation on a registry: define a metric, call a metric's method, or call a registry method. */
function apply(registry, op) {
  if (op.op === 'define') {
    // prom-client accepts a metric with exemplars only on a registry set to OpenMetrics.
    if (op.config.enableExemplars) registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
    return void new kinds[op.kind]({ ...decode(op.config), registers: [registry] });
  }
  if (op.op === 'registry') return registry[op.method](...decode(op.args ?? []));
  if (op.op === 'call') {
    const m = metricOf(registry, op.name);
    const target = op.labels === undefined ? m : m.labels(decode(op.labels));
    return target[op.method](...decode(op.args ?? []));
  }
  throw new Error(`unknown op ${op.op}`);
}

// Counters, histograms and summaries keep their totals in the store across reset()/remove() (its README):
// the reference registry does not apply those calls, so its rendering is the totals the store must show.
function cumulativeReset(registry, op) {
  if (op.op === 'registry') return op.method === 'resetMetrics';
  if (op.op !== 'call' || (op.method !== 'reset' && op.method !== 'remove')) return false;
  const type = metricOf(registry, op.name).type;
  return type !== 'gauge';
}

async function program({ dir, ops, json: wantJson = false }) {
  const recorded = new client.Registry();
  const reference = new client.Registry();
  // The previous program's store is closed only now, after the test scraped it: closing flushes as an
  // exiting process, and live gauge modes leave out exited processes.
  programStore?.close();
  const s = openStore({ dir, flushIntervalMs: 3_600_000, logger });
  programStore = s;
  s.attach(recorded);
  for (const op of ops) {
    if (op.op === 'flush') {
      s.flush();
      continue;
    }
    if (op.op === 'registry' && op.method === 'resetMetrics') {
      // resetMetrics() on the reference would also reset its gauges: reset those one by one instead.
      apply(recorded, op);
      for (const m of reference.getMetricsAsArray()) if (m.type === 'gauge') m.reset();
      continue;
    }
    apply(recorded, op);
    if (!cumulativeReset(reference, op)) apply(reference, op);
  }
  const flushed = s.flush();
  // Text first: prom-client's OpenMetrics rendering renames counters in place (strips `_total`).
  const text = await reference.metrics();
  // What a worker sends prom-client's AggregatorRegistry; only when asked: with default labels,
  // getMetricsAsJSON() writes them into the series' own label objects when a value is '' (prom-client 15),
  // which would change the OpenMetrics rendering below.
  const json = wantJson ? await reference.getMetricsAsJSON() : undefined;
  reference.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  const openmetrics = await reference.metrics();
  return { text, openmetrics, json, flushed };
}

let programStore;

const ops = {
  open: ({ dir, defaultLabels }) => {
    store = openStore({ dir, flushIntervalMs: 3_600_000, logger });
    const r = new client.Registry();
    if (defaultLabels) r.setDefaultLabels(defaultLabels);
    store.attach(r);
    registries.push(r);
    return process.pid;
  },
  /** Attach one more registry to the same store (prom-client's "merge registries" case). */
  addRegistry: () => {
    const r = new client.Registry();
    store.attach(r);
    registries.push(r);
    return registries.length - 1;
  },
  /** Operations on registry `reg` (default 0), in order; the result of the last one. */
  run: ({ reg = 0, ops: list }) => {
    let last;
    for (const op of list) last = op.op === 'flush' ? store.flush() : apply(registries[reg], op);
    return typeof last === 'boolean' || typeof last === 'number' ? last : null;
  },
  /** A prom-client collector (`registerMetric({ name, get() })`, as registerTest.js's getMetric()) on registry `reg`. */
  collector: ({ reg = 0, metric }) => {
    registries[reg].registerMetric({ name: metric.name, get: async () => metric });
    return null;
  },
  flush: () => store.flush(),
  health: () => store.health(),
  program,
};

process.on('message', async (msg) => {
  let reply;
  try {
    const fn = ops[msg.op];
    if (!fn) throw new Error(`unknown op ${msg.op}`);
    reply = { id: msg.id, result: await fn(msg) };
  } catch (err) {
    reply = { id: msg.id, error: String(err?.stack ?? err) };
  }
  if (process.connected) process.send(reply);
});
process.send({ ready: true, pid: process.pid, results: [] });
