// Issue 13 §1: the store's merge held to prom-client's and Python's semantics. Each case failed before the
// fix it names (the scenarios come from the issue: translated from prometheus_client's
// tests/test_multiprocess.py and prom-client's own tests, not copied).
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type MetricsStore, openStore } from './index.js';
import { captureLogger, killAll, removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from './test-support/validate.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };

function storeWith(registry: Registry, logger: { warn(m: string): void } = quiet): MetricsStore {
  const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger });
  store.attach(registry);
  return store;
}

async function value(
  store: MetricsStore,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  return sampleValue(parseExposition(await store.metrics()), name, labels);
}

describe('reset() and remove() lose no increment (§1.1)', () => {
  it('a counter reset after a flush adds what it counts afterwards: 12 + 15 = 27', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', registers: [registry] });
    const store = storeWith(registry);
    c.inc(12);
    store.flush();
    c.reset();
    c.inc(15);
    store.flush();
    expect(await value(store, 'c_total')).toBe(27);
    store.close();
  });

  it('what was recorded between the last flush and reset() is carried forward: 12 + 3 + 15 = 30', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['k'], registers: [registry] });
    const store = storeWith(registry);
    c.inc({ k: 'a' }, 12);
    store.flush();
    c.inc({ k: 'a' }, 3);
    registry.resetMetrics(); // the registry-wide reset goes through each metric's reset()
    c.inc({ k: 'a' }, 15);
    store.flush();
    expect(await value(store, 'c_total', { k: 'a' })).toBe(30);
    store.close();
  });

  it('remove() of a series, unflushed part included, whether or not the series grows back', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['k'], registers: [registry] });
    const store = storeWith(registry);
    c.inc({ k: 'back' }, 5);
    c.inc({ k: 'gone' }, 5);
    store.flush();
    c.inc({ k: 'back' }, 4);
    c.inc({ k: 'gone' }, 4);
    c.remove({ k: 'back' });
    c.remove('gone'); // label values in labelNames order, as prom-client also accepts
    c.inc({ k: 'back' }, 2);
    store.flush();
    expect(await value(store, 'c_total', { k: 'back' })).toBe(11);
    expect(await value(store, 'c_total', { k: 'gone' })).toBe(9);
    c.inc({ k: 'back' }); // and it goes on from there
    store.flush();
    expect(await value(store, 'c_total', { k: 'back' })).toBe(12);
    store.close();
  });

  it('a histogram reset keeps its buckets, _sum and _count growing', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'h', help: 'h', buckets: [1, 10], registers: [registry] });
    const store = storeWith(registry);
    h.observe(0.5);
    h.observe(5);
    store.flush();
    h.observe(7);
    h.reset();
    h.observe(0.25);
    store.flush();
    const exp = parseExposition(await store.metrics());
    expect(sampleValue(exp, 'h_bucket', { le: '1' })).toBe(2);
    expect(sampleValue(exp, 'h_bucket', { le: '10' })).toBe(4);
    expect(sampleValue(exp, 'h_count')).toBe(4);
    expect(sampleValue(exp, 'h_sum')).toBe(12.75);
    store.close();
  });

  it('a summary reset (prom-client zeroes it in place) keeps _sum and _count growing', async () => {
    const registry = new Registry();
    const s = new Summary({ name: 's', help: 's', labelNames: ['k'], registers: [registry] });
    const store = storeWith(registry);
    s.observe({ k: 'a' }, 5);
    s.observe({ k: 'a' }, 5);
    store.flush();
    s.reset();
    s.observe({ k: 'a' }, 1);
    s.observe({ k: 'a' }, 1);
    s.observe({ k: 'a' }, 1);
    store.flush();
    expect(await value(store, 's_count', { k: 'a' })).toBe(5);
    expect(await value(store, 's_sum', { k: 'a' })).toBe(13);
    store.close();
  });
});

describe('NaN never freezes a process (§1.2)', () => {
  it('counter.inc(NaN): the other metrics keep flushing, the series keeps its total, logged once and counted', async () => {
    const registry = new Registry();
    const bad = new Counter({ name: 'bad_total', help: 'b', labelNames: ['k'], registers: [registry] });
    const good = new Counter({ name: 'good_total', help: 'g', registers: [registry] });
    const { warnings, logger } = captureLogger();
    const store = storeWith(registry, logger);
    bad.inc({ k: 'x' }, 2);
    store.flush();
    bad.inc({ k: 'x' }, Number.NaN); // prom-client accepts it
    good.inc(1);
    expect(store.flush()).toBe(true);
    good.inc(1);
    expect(store.flush()).toBe(true);
    expect(await value(store, 'good_total')).toBe(2);
    expect(await value(store, 'bad_total', { k: 'x' })).toBe(2);
    const health = store.health();
    expect(health.flushFailures).toBe(0);
    expect(health.unstorableValues).toBe(1);
    expect(warnings.filter((w) => w.includes('NaN'))).toHaveLength(1);
    expect(warnings.join('\n')).toContain('bad_total');
    bad.reset(); // a reset series is storable again
    bad.inc({ k: 'x' }, 3);
    store.flush();
    expect(await value(store, 'bad_total', { k: 'x' })).toBe(5);
    store.close();
  });
});

describe('nothing a metric declares makes the exposition invalid', () => {
  it('an all-mode gauge with its own pid label gets the process as process_pid (§1.3)', async () => {
    const registry = new Registry();
    const g = new Gauge({
      name: 'g',
      help: 'g',
      labelNames: ['pid'],
      multiprocessMode: 'all',
      registers: [registry],
    });
    const plain = new Gauge({ name: 'plain', help: 'p', multiprocessMode: 'liveall', registers: [registry] });
    const store = storeWith(registry);
    g.set({ pid: '7' }, 1);
    plain.set(2);
    store.flush();
    const text = await store.metrics();
    expect(text).toContain(`g{pid="7",process_pid="${process.pid}"} 1`);
    expect(text).toContain(`plain{pid="${process.pid}"} 2`);
    const om = await store.metrics({ format: 'openmetrics' });
    expect(openMetricsProblems(om)).toEqual([]);
    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
    store.close();
  });

  it('a registry default label is kept when the metric declares that label and the series does not set it (§1.4)', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ env: 'prod' });
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['x', 'env'], registers: [registry] });
    const store = storeWith(registry);
    c.inc({ x: '1' });
    c.inc({ x: '2', env: 'dev' });
    store.flush();
    const exp = parseExposition(await store.metrics());
    const own = parseExposition(await registry.metrics());
    const labelsOf = (e: typeof exp) =>
      e.samples.filter((s) => s.name === 'c_total').map((s) => JSON.stringify(Object.entries(s.labels).sort()));
    expect(labelsOf(exp).sort()).toEqual(labelsOf(own).sort());
    expect(sampleValue(exp, 'c_total', { x: '1', env: 'prod' })).toBe(1);
    store.close();
  });

  it('OpenMetrics: a histogram with negative observations or bounds carries no _sum it would reject (§1.7)', async () => {
    const registry = new Registry();
    const neg = new Histogram({ name: 'neg_bounds', help: 'n', buckets: [-1, 0, 1], registers: [registry] });
    const h = new Histogram({ name: 'neg_sum', help: 'n', labelNames: ['k'], buckets: [1, 2], registers: [registry] });
    const s = new Summary({ name: 'neg_summary', help: 'n', registers: [registry] });
    const store = storeWith(registry);
    neg.observe(-5);
    h.observe({ k: 'neg' }, -3);
    h.observe({ k: 'pos' }, 1.5);
    s.observe(-2);
    store.flush();
    const om = await store.metrics({ format: 'openmetrics' });
    expect(openMetricsProblems(om)).toEqual([]);
    const exp = parseExposition(om, true);
    expect(sampleValue(exp, 'neg_bounds_bucket', { le: '-1' })).toBe(1);
    expect(sampleValue(exp, 'neg_bounds_sum')).toBeUndefined();
    expect(sampleValue(exp, 'neg_sum_sum', { k: 'neg' })).toBeUndefined();
    expect(sampleValue(exp, 'neg_sum_bucket', { k: 'neg', le: '+Inf' })).toBe(1);
    expect(sampleValue(exp, 'neg_sum_sum', { k: 'pos' })).toBe(1.5);
    expect(sampleValue(exp, 'neg_summary_count')).toBe(1);
    expect(sampleValue(exp, 'neg_summary_sum')).toBeUndefined();
    // The Prometheus text format allows them: every sample is there.
    const text = parseExposition(await store.metrics());
    expect(sampleValue(text, 'neg_sum_sum', { k: 'neg' })).toBe(-3);
    expect(sampleValue(text, 'neg_bounds_sum')).toBe(-5);
    store.close();
  });
});

describe('registry.removeSingleMetric() (§1.5)', () => {
  it('is reset() for good: the counter keeps its total and its unflushed part, the gauge is withdrawn', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', registers: [registry] });
    const g = new Gauge({ name: 'g', help: 'g', registers: [registry] });
    const store = storeWith(registry);
    c.inc(3);
    g.set(5);
    store.flush();
    c.inc(2);
    registry.removeSingleMetric('c_total');
    registry.removeSingleMetric('g');
    store.flush();
    const text = await store.metrics();
    expect(sampleValue(parseExposition(text), 'c_total')).toBe(5);
    expect(text).not.toContain('# TYPE g gauge');
    // Registered again (the same object), it goes on without counting anything twice.
    registry.registerMetric(c);
    registry.registerMetric(g);
    c.inc(1);
    store.flush();
    expect(await value(store, 'c_total')).toBe(6);
    expect(await value(store, 'g')).toBe(5);
    store.close();
  });
});

describe('infinities (§1.6)', () => {
  it('a histogram _sum that overflowed to +Inf stays +Inf, never NaN', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'h', help: 'h', buckets: [1], registers: [registry] });
    const store = storeWith(registry);
    h.observe(1e308);
    h.observe(1e308);
    store.flush();
    h.observe(0.5);
    store.flush();
    h.observe(0.5);
    store.flush();
    const exp = parseExposition(await store.metrics());
    expect(sampleValue(exp, 'h_sum')).toBe(Number.POSITIVE_INFINITY);
    expect(sampleValue(exp, 'h_count')).toBe(4);
    expect(sampleValue(exp, 'h_bucket', { le: '1' })).toBe(2);
    store.close();
  });
});
